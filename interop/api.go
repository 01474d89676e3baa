package interop

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// APICall makes one admin API request with a bearer token and decodes a
// JSON answer into out (when not nil).
func APICall(t *testing.T, b *Bridge, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, b.API+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return res.StatusCode
}

// WaitRoomMembers waits until the API lists n members in room.
func WaitRoomMembers(t *testing.T, b *Bridge, room string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var conf struct{ Members []struct{ ID string } }
		if APICall(t, b, OpsToken, "GET", "/api/v1/conferences/"+room, "", &conf) == 200 && len(conf.Members) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s: %d members, want %d", room, len(conf.Members), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apiMember is one participant as GET /api/v1/conferences/{room} shows it.
type apiMember struct {
	ID       string `json:"id"`
	CallerID string `json:"caller_id"`
	Role     string `json:"role"`
}

// WaitMember polls the API until the room has a member with callerID.
func WaitMember(t *testing.T, b *Bridge, callerID string) apiMember {
	t.Helper()
	var conf struct{ Members []apiMember }
	deadline := time.Now().Add(30 * time.Second)
	for {
		conf.Members = nil
		APICall(t, b, OpsToken, "GET", "/api/v1/conferences/"+RoomExt, "", &conf)
		for _, m := range conf.Members {
			if m.CallerID == callerID {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no member with caller ID %q in room %s within 30 s; members %+v", callerID, RoomExt, conf.Members)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func RoomState(t *testing.T, b *Bridge) conferenceState {
	t.Helper()
	var c conferenceState
	APICall(t, b, OpsToken, "GET", "/api/v1/conferences/"+RoomExt, "", &c)
	return c
}

// conferenceState is GET /api/v1/conferences/{room}, what these tests need.
type conferenceState struct {
	Members   []apiMember
	Recording bool
}

func (c conferenceState) Has(callerID string) bool {
	for _, m := range c.Members {
		if m.CallerID == callerID {
			return true
		}
	}
	return false
}
