package interop

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"brygga/phone"
)

// DialPhoneFrom dials target from a phone on ip, keying nothing.
func DialPhoneFrom(ctx context.Context, t *testing.T, target, ip, user string) *phone.Call {
	t.Helper()
	ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr(ip), User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	call, err := ph.Dial(dctx, target)
	if err != nil {
		t.Fatalf("%s from %s: %v", user, ip, err)
	}
	return call
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
