package sip_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	ssip "github.com/emiago/sipgo/sip"

	"brygga/media/codec"
	"brygga/sip/sdp"
)

// TestSRTPOffers: an RTP/SAVP offer with a key we take is answered
// RTP/SAVP with our own key on the offer's tag; SRTP we cannot key
// (another suite, DTLS-SRTP) gets 488; and an SRTP call is not let down to
// plain RTP (nor a plain call up) by a re-INVITE: 488, and the call goes
// on.
func TestSRTPOffers(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	const key = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ"
	for _, tc := range []struct{ name, sdp string }{
		{"AES-256 only", head + "m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" + key + key + "\r\n"},
		{"SAVP without a key", head + "m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"},
		{"DTLS-SRTP", head + "m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n"},
	} {
		if res := raw.request(t, ssip.INVITE, b.target("5000"), "application/sdp", []byte(tc.sdp)); res.StatusCode != 488 {
			t.Errorf("%s: %d %s, want 488", tc.name, res.StatusCode, res.Reason)
		}
	}

	sink := newRTPSink(t)
	offer := []byte(head + "m=audio " + strconv.Itoa(sink.port()) + " RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" + key + "\r\n")
	ds := raw.invite(t, b.target("5000"), offer)
	ack(t, ds, nil)
	ans, err := sdp.ParseOffer(ds.InviteResponse.Body())
	if err != nil {
		t.Fatal(err)
	}
	if ans.Transport != "RTP/SAVP" || len(ans.Crypto) != 1 || ans.Crypto[0].Tag != 7 || ans.Crypto[0].Suite != sdp.SuiteAES128SHA1_32 {
		t.Fatalf("answer to an SRTP offer:\n%s", ds.InviteResponse.Body())
	}
	waitFor(t, "SRTP from the bridge", 10*time.Second, func() bool { return sink.count(0) >= 5 })

	plain, err := sdp.BuildOffer(loopback, sink.port(), 1, 2, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	req := ssip.NewRequest(ssip.INVITE, ds.InviteResponse.Contact().Address)
	req.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(plain)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := ds.Do(ctx, req); err != nil || res.StatusCode != 488 {
		t.Errorf("re-INVITE from SRTP down to plain RTP: %v %v, want 488", res, err)
	}
	if b.srv.Calls() != 1 {
		t.Fatal("the refused re-INVITE ended the call")
	}
	bye(t, ds)
	checkIdle(t, b)
}
