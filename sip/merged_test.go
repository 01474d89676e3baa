package sip_test

import (
	"context"
	"testing"
	"time"

	ssip "github.com/emiago/sipgo/sip"

	"brygga/media/codec"
	"brygga/sip/sdp"
)

// TestMergedRequestGets482: the same INVITE (Call-ID and From tag) on a
// second branch, as a forking proxy can deliver it, is refused with 482
// Loop Detected while the first call is up (RFC 3261 §8.2.2.2), so the
// caller is not in the room twice; once that call has ended, the same
// origin may call again.
func TestMergedRequestGets482(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	sink := newRTPSink(t)
	offer, err := sdp.BuildOffer(loopback, sink.port(), 1, 1, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	ds := raw.invite(t, b.target("5000"), offer)
	ack(t, ds, nil)

	again := func() *ssip.Response {
		t.Helper()
		req := newRequest(t, ssip.INVITE, b.target("5000"))
		req.AppendHeader(ssip.HeaderClone(ds.InviteRequest.From()))
		req.AppendHeader(ssip.HeaderClone(ds.InviteRequest.CallID()))
		req.AppendHeader(ssip.NewHeader("Contact", "<sip:raw@127.0.0.1>"))
		req.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offer)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := raw.client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := again(); res.StatusCode != 482 {
		t.Fatalf("merged INVITE: %d %s, want 482", res.StatusCode, res.Reason)
	}
	if n := b.srv.Calls(); n != 1 {
		t.Fatalf("%d calls after a merged request, want 1", n)
	}
	bye(t, ds)
	waitFor(t, "the first call gone", 10*time.Second, func() bool { return b.srv.Calls() == 0 })
	if res := again(); res.StatusCode != 200 {
		t.Fatalf("the same origin after its call ended: %d %s, want 200", res.StatusCode, res.Reason)
	}
}
