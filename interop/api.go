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

// Conference is GET /api/v1/conferences/{room}, or one entry of the list,
// with the fields the tests read.
type Conference struct {
	Room      string
	Node      string
	EndsAt    *time.Time `json:"ends_at"`
	Locked    bool
	Recording bool
	Members   []Member
}

// Member is one participant of a Conference.
type Member struct {
	ID       string `json:"id"`
	CallerID string `json:"caller_id"`
	Role     string `json:"role"`
	Muted    bool   `json:"muted"`
}

// GetConference reads room on b with token, and the status of the answer.
func GetConference(t *testing.T, b *Bridge, token, room string) (Conference, int) {
	t.Helper()
	var c Conference
	code := APICall(t, b, token, "GET", "/api/v1/conferences/"+room, "", &c)
	return c, code
}

// RoomState is the test room on b as the operator sees it.
func RoomState(t *testing.T, b *Bridge) Conference {
	t.Helper()
	c, _ := GetConference(t, b, OpsToken, RoomExt)
	return c
}

// Find is the member with callerID.
func (c Conference) Find(callerID string) (Member, bool) {
	for _, m := range c.Members {
		if m.CallerID == callerID {
			return m, true
		}
	}
	return Member{}, false
}

// Has reports whether a member has callerID.
func (c Conference) Has(callerID string) bool {
	_, ok := c.Find(callerID)
	return ok
}

// Role is the role of the member with callerID, "" when there is none.
func (c Conference) Role(callerID string) string {
	m, _ := c.Find(callerID)
	return m.Role
}

// WaitRoomMembers waits until the API lists n members in room.
func WaitRoomMembers(t *testing.T, b *Bridge, room string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, code := GetConference(t, b, OpsToken, room)
		if code == 200 && len(c.Members) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s: %d members, want %d", room, len(c.Members), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitMember polls the API until the room has a member with callerID.
func WaitMember(t *testing.T, b *Bridge, callerID string) Member {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := RoomState(t, b)
		if m, ok := c.Find(callerID); ok {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no member with caller ID %q in room %s within 30 s; members %+v", callerID, RoomExt, c.Members)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
