package sdp

import (
	"strings"

	"brygga/media/codec"
)

// crlf turns a readable SDP literal into the CRLF form SIP carries.
func crlf(s string) string {
	return strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n")
}

// realOffer is an SDP as a known SIP peer sends it, with what brygga must
// make of it. The bodies are written from captures and vendor docs as
// faithfully as memory allows (addresses, ids and ssrcs changed); they keep
// each peer's quirks: attribute order, session- versus media-level c= and
// direction, static payload types without rtpmap, odd codec names.
type realOffer struct {
	name string
	body string

	parseErr error // from ParseOffer; nil = parses
	negErr   error // from Negotiate with PCMU and PCMA

	addr       string
	port       int
	transport  string
	audioIndex int
	media      int // m= lines in the offer, and so in the answer
	dir        Direction
	hold       bool
	ptime      int
	maxPtime   int
	formats    int // number of formats on the audio m= line

	codec string
	pt    uint8
	dtmf  uint8
}

var supported = []codec.Codec{codec.PCMU, codec.PCMA}

var realOffers = []realOffer{
	{
		name: "baresip 1.0 default",
		body: crlf(`
v=0
o=- 1186564950 3519553786 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
a=tool:baresip 1.0.0
m=audio 10442 RTP/AVP 0 8 101
b=AS:88
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-rsize
a=ssrc:1790421017 cname:sip:me@127.0.0.1
a=ptime:20
`),
		addr: "127.0.0.1", port: 10442, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 20, formats: 3,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "baresip 1.0 audio_codecs=PCMU, rtcp-mux, audio level extension",
		body: crlf(`
v=0
o=- 2734629913 1489137401 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
a=tool:baresip 1.0.0
m=audio 10020 RTP/AVP 0 101
b=AS:84
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-rsize
a=rtcp-mux
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=ssrc:3307611734 cname:sip:me@127.0.0.1
a=ptime:20
`),
		addr: "127.0.0.1", port: 10020, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 20, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "baresip 1.0 hold re-INVITE (sendonly)",
		body: crlf(`
v=0
o=- 1186564950 3519553787 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
a=tool:baresip 1.0.0
m=audio 10442 RTP/AVP 0 8 101
b=AS:88
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendonly
a=label:1
a=rtcp-rsize
a=ssrc:1790421017 cname:sip:me@127.0.0.1
a=ptime:20
`),
		addr: "127.0.0.1", port: 10442, transport: "RTP/AVP", media: 1, dir: SendOnly, hold: true, ptime: 20, formats: 3,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "baresip 1.0 on IPv6",
		body: crlf(`
v=0
o=- 398231205 1929411223 IN IP6 2001:db8::10
s=-
c=IN IP6 2001:db8::10
t=0 0
a=tool:baresip 1.0.0
m=audio 10616 RTP/AVP 0 8 101
b=AS:88
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-rsize
a=ssrc:2840419581 cname:sip:me@[2001:db8::10]
a=ptime:20
`),
		addr: "2001:db8::10", port: 10616, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 20, formats: 3,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "linphone 5.2 with ICE, rtcp-xr, rtcp-fb and telephone-event at three rates",
		body: crlf(`
v=0
o=alice 2391 1786 IN IP4 192.168.1.42
s=Talk
c=IN IP4 192.168.1.42
t=0 0
a=ice-pwd:31ec21eb38b2ec6d36e8dc7b
a=ice-ufrag:0d5b2f2d
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 9 0 8 18 101 99 100
c=IN IP4 192.168.1.42
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=rtpmap:9 G722/8000
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp:7079
a=candidate:1 1 UDP 2130706431 192.168.1.42 7078 typ host
a=candidate:1 2 UDP 2130706430 192.168.1.42 7079 typ host
a=candidate:2 1 UDP 1694498815 203.0.113.77 41234 typ srflx raddr 192.168.1.42 rport 7078
a=candidate:2 2 UDP 1694498814 203.0.113.77 41235 typ srflx raddr 192.168.1.42 rport 7079
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
`),
		addr: "192.168.1.42", port: 7078, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 10,
		codec: "PCMU", pt: 0, dtmf: 100,
	},
	{
		name: "linphone 5.2 with video and AVPF",
		body: crlf(`
v=0
o=bob 1103 2873 IN IP4 10.0.0.23
s=Talk
c=IN IP4 10.0.0.23
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVPF 96 97 98 0 8 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
m=video 9078 RTP/AVPF 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
a=rtcp-fb:96 nack pli
a=rtcp-fb:96 nack sli
a=rtcp-fb:96 ack rpsi
a=rtcp-fb:96 ccm fir
a=rtcp-fb:97 nack pli
a=rtcp-fb:97 ccm fir
`),
		addr: "10.0.0.23", port: 7078, transport: "RTP/AVPF", media: 2, dir: SendRecv, formats: 8,
		codec: "PCMU", pt: 0, dtmf: 100,
	},
	{
		name: "linphone 5.2 pause (sendonly)",
		body: crlf(`
v=0
o=alice 2391 1787 IN IP4 192.168.1.42
s=Talk
c=IN IP4 192.168.1.42
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
a=rtcp:7079
a=sendonly
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
`),
		addr: "192.168.1.42", port: 7078, transport: "RTP/AVP", media: 1, dir: SendOnly, hold: true, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "Asterisk 20 chan_pjsip, G722 first, maxptime",
		body: crlf(`
v=0
o=- 1696234512 1696234514 IN IP4 203.0.113.20
s=Asterisk
c=IN IP4 203.0.113.20
t=0 0
m=audio 18674 RTP/AVP 9 8 0 101
a=rtpmap:9 G722/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
`),
		addr: "203.0.113.20", port: 18674, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 20, maxPtime: 150, formats: 4,
		codec: "PCMA", pt: 8, dtmf: 101,
	},
	{
		name: "Asterisk 20 chan_pjsip, ulaw first",
		body: crlf(`
v=0
o=- 1212979201 1212979201 IN IP4 198.51.100.7
s=Asterisk
c=IN IP4 198.51.100.7
t=0 0
m=audio 10568 RTP/AVP 0 8 9 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
`),
		addr: "198.51.100.7", port: 10568, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 20, maxPtime: 150, formats: 4,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "Cisco SPA504G, G729a first, ptime 30",
		body: crlf(`
v=0
o=- 27520 27520 IN IP4 192.168.1.50
s=-
c=IN IP4 192.168.1.50
t=0 0
m=audio 16450 RTP/AVP 18 0 8 2 101
a=rtpmap:18 G729a/8000
a=fmtp:18 annexb=no
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:2 G726-32/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:30
a=sendrecv
`),
		addr: "192.168.1.50", port: 16450, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 30, formats: 5,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "Cisco SPA504G RFC 2543 hold (c=0.0.0.0)",
		body: crlf(`
v=0
o=- 27520 27521 IN IP4 192.168.1.50
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 16450 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:30
a=sendrecv
`),
		addr: "0.0.0.0", port: 16450, transport: "RTP/AVP", media: 1, dir: SendOnly, hold: true, ptime: 30, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "Cisco CUCM 12 SIP trunk, session bandwidth, media c= from the phone",
		body: crlf(`
v=0
o=CiscoSystemsCCM-SIP 2000 1 IN IP4 10.10.10.11
s=SIP Call
c=IN IP4 10.10.20.30
b=TIAS:64000
b=AS:64
t=0 0
m=audio 24580 RTP/AVP 8 0 18 101
b=TIAS:64000
a=ptime:20
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=trafficclass:conversational.audio.aq:admitted
`),
		addr: "10.10.20.30", port: 24580, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 20, formats: 4,
		codec: "PCMA", pt: 8, dtmf: 101,
	},
	{
		name: "Cisco CUCM hold without MOH (inactive)",
		body: crlf(`
v=0
o=CiscoSystemsCCM-SIP 2000 2 IN IP4 10.10.10.11
s=SIP Call
c=IN IP4 10.10.20.30
b=TIAS:64000
b=AS:64
t=0 0
m=audio 24580 RTP/AVP 8 101
b=TIAS:64000
a=ptime:20
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=inactive
`),
		addr: "10.10.20.30", port: 24580, transport: "RTP/AVP", media: 1, dir: Inactive, hold: true, ptime: 20, formats: 2,
		codec: "PCMA", pt: 8, dtmf: 101,
	},
	{
		name: "Cisco CP-7841 via CUCM, iLBC mode=30, G729 annexb=no, ptime 30",
		body: crlf(`
v=0
o=Cisco-SIPUA 4432 0 IN IP4 10.10.30.44
s=SIP Call
t=0 0
m=audio 28016 RTP/AVP 114 18 0 8 116 101
c=IN IP4 10.10.30.44
b=TIAS:64000
a=rtpmap:114 opus/48000/2
a=fmtp:114 maxplaybackrate=16000;sprop-maxcapturerate=16000;maxaveragebitrate=64000;stereo=0;sprop-stereo=0;usedtx=0
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:116 iLBC/8000
a=fmtp:116 mode=30
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:30
a=sendrecv
`),
		addr: "10.10.30.44", port: 28016, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 30, formats: 6,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "Polycom VVX 450, session-level direction, telephone-event 127",
		body: crlf(`
v=0
o=- 1701425630 1701425630 IN IP4 172.16.5.21
s=Polycom IP Phone
c=IN IP4 172.16.5.21
t=0 0
a=sendrecv
m=audio 2238 RTP/AVP 9 102 103 0 8 18 104 127
a=rtpmap:9 G722/8000
a=rtpmap:102 G7221/16000
a=fmtp:102 bitrate=32000
a=rtpmap:103 G7221/16000
a=fmtp:103 bitrate=24000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:104 iLBC/8000
a=fmtp:104 mode=30
a=rtpmap:127 telephone-event/8000
`),
		addr: "172.16.5.21", port: 2238, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 8,
		codec: "PCMU", pt: 0, dtmf: 127,
	},
	{
		name: "Polycom VVX hold, session-level sendonly",
		body: crlf(`
v=0
o=- 1701425630 1701425631 IN IP4 172.16.5.21
s=Polycom IP Phone
c=IN IP4 172.16.5.21
t=0 0
a=sendonly
m=audio 2238 RTP/AVP 0 127
a=rtpmap:0 PCMU/8000
a=rtpmap:127 telephone-event/8000
`),
		addr: "172.16.5.21", port: 2238, transport: "RTP/AVP", media: 1, dir: SendOnly, hold: true, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 127,
	},
	{
		name: "SIPp 3.6 uac_pcap",
		body: crlf(`
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-11,16
`),
		addr: "127.0.0.1", port: 6000, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 2,
		codec: "PCMA", pt: 8, dtmf: 101,
	},
	{
		name: "SIPp 3.6 uac, bare LF line endings",
		body: strings.TrimPrefix(`
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`, "\n"),
		addr: "127.0.0.1", port: 6000, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 1,
		codec: "PCMU", pt: 0, dtmf: 0,
	},
	{
		name: "SIPp scenario with play_dtmf (telephone-event 96), no final CRLF",
		body: strings.TrimSuffix(crlf(`
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6002 RTP/AVP 0 96
a=rtpmap:0 PCMU/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-15
`), "\r\n"),
		addr: "127.0.0.1", port: 6002, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 96,
	},
	{
		name: "MicroSIP 3.21 (pjsip): media-level c= only, session b= before t=, a=rtcp with address",
		body: crlf(`
v=0
o=- 3904567890 3904567890 IN IP4 192.168.1.33
s=pjmedia
b=AS:84
t=0 0
a=X-nat:0
m=audio 4002 RTP/AVP 96 9 8 0 101 120
c=IN IP4 192.168.1.33
b=TIAS:64000
a=rtcp:4003 IN IP4 192.168.1.33
a=sendrecv
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:9 G722/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:120 telephone-event/48000
a=fmtp:120 0-16
a=ssrc:1265385443 cname:4b7d5e1a6c2f1234
`),
		addr: "192.168.1.33", port: 4002, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 6,
		codec: "PCMA", pt: 8, dtmf: 101,
	},
	{
		name: "Zoiper 5: session id 0, opus fmtp with spaces, rtcp-mux, telephone-event 48000 first",
		body: crlf(`
v=0
o=Z 0 32847447 IN IP4 192.168.1.20
s=Z
c=IN IP4 192.168.1.20
t=0 0
m=audio 8000 RTP/AVP 106 9 98 101 0 8 3
a=rtpmap:106 opus/48000/2
a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1
a=rtpmap:98 telephone-event/48000
a=fmtp:98 0-16
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
a=rtcp-mux
`),
		addr: "192.168.1.20", port: 8000, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 7,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "media-level c= beats session-level c=",
		body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 8
c=IN IP4 192.0.2.99
a=rtpmap:8 PCMA/8000
`),
		addr: "192.0.2.99", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 1,
		codec: "PCMA", pt: 8,
	},
	{
		name: "media-level direction beats session-level",
		body: crlf(`
v=0
o=- 1 2 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
a=sendonly
m=audio 5004 RTP/AVP 0
a=sendrecv
`),
		addr: "192.0.2.1", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 1,
		codec: "PCMU", pt: 0,
	},
	{
		name: "recvonly (listen-only) is not hold",
		body: crlf(`
v=0
o=- 1 2 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
a=recvonly
`),
		addr: "192.0.2.1", port: 5004, transport: "RTP/AVP", media: 1, dir: RecvOnly, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "c=0.0.0.0 with recvonly is inactive",
		body: crlf(`
v=0
o=- 1 3 IN IP4 192.0.2.1
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 5004 RTP/AVP 0
a=recvonly
`),
		addr: "0.0.0.0", port: 5004, transport: "RTP/AVP", media: 1, dir: Inactive, hold: true, formats: 1,
		codec: "PCMU", pt: 0,
	},
	{
		name: "static payload types without rtpmap",
		body: crlf(`
v=0
o=- 7 7 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
t=0 0
m=audio 5004 RTP/AVP 18 4 8
`),
		addr: "192.0.2.5", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 3,
		codec: "PCMA", pt: 8,
	},
	{
		name: "PCMU on dynamic payload type 112, lower-case names",
		body: crlf(`
v=0
o=- 8 8 IN IP4 192.0.2.6
s=-
c=IN IP4 192.0.2.6
t=0 0
m=audio 5004 RTP/AVP 112 113
a=rtpmap:112 pcmu/8000
a=rtpmap:113 Telephone-Event/8000
a=fmtp:113 0-15
`),
		addr: "192.0.2.6", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 2,
		codec: "PCMU", pt: 112, dtmf: 113,
	},
	{
		name: "telephone-event only at 48000: no RFC 4733 for G.711",
		body: crlf(`
v=0
o=- 9 9 IN IP4 192.0.2.7
s=-
c=IN IP4 192.0.2.7
t=0 0
m=audio 5004 RTP/AVP 96 0 101
a=rtpmap:96 opus/48000/2
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/48000
a=fmtp:101 0-16
`),
		addr: "192.0.2.7", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 3,
		codec: "PCMU", pt: 0, dtmf: 0,
	},
	{
		name: "stereo PCMU is skipped for the mono one",
		body: crlf(`
v=0
o=- 9 9 IN IP4 192.0.2.7
s=-
c=IN IP4 192.0.2.7
t=0 0
m=audio 5004 RTP/AVP 110 8
a=rtpmap:110 PCMU/8000/2
a=rtpmap:8 PCMA/8000
`),
		addr: "192.0.2.7", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 2,
		codec: "PCMA", pt: 8,
	},
	{
		name: "SDES-SRTP and plain RTP on two audio lines (best-effort SRTP): plain one is used",
		body: crlf(`
v=0
o=- 3 3 IN IP4 192.0.2.8
s=-
c=IN IP4 192.0.2.8
t=0 0
m=audio 5010 RTP/SAVP 0 8 101
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32
a=rtpmap:101 telephone-event/8000
m=audio 5012 RTP/AVP 0 8 101
a=rtpmap:101 telephone-event/8000
`),
		addr: "192.0.2.8", port: 5012, transport: "RTP/AVP", audioIndex: 1, media: 2, dir: SendRecv, formats: 3,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "audio and T.38 image in one offer",
		body: crlf(`
v=0
o=- 11 11 IN IP4 192.0.2.9
s=-
c=IN IP4 192.0.2.9
t=0 0
m=audio 4000 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
m=image 4002 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPRedundancy
`),
		addr: "192.0.2.9", port: 4000, transport: "RTP/AVP", media: 2, dir: SendRecv, formats: 2,
		codec: "PCMU", pt: 0, dtmf: 101,
	},
	{
		name: "second audio stream and video are refused",
		body: crlf(`
v=0
o=- 12 12 IN IP4 192.0.2.11
s=-
c=IN IP4 192.0.2.11
t=0 0
m=video 5020 RTP/AVP 34
a=rtpmap:34 H263/90000
m=audio 5000 RTP/AVP 8 0
m=audio 5002 RTP/AVP 0
a=sendonly
`),
		addr: "192.0.2.11", port: 5000, transport: "RTP/AVP", audioIndex: 1, media: 3, dir: SendRecv, formats: 2,
		codec: "PCMA", pt: 8,
	},

	// 488: nothing in common.
	{
		name: "Cisco SPA G729-only",
		body: crlf(`
v=0
o=- 27520 27520 IN IP4 192.168.1.50
s=-
c=IN IP4 192.168.1.50
t=0 0
m=audio 16450 RTP/AVP 18 101
a=rtpmap:18 G729a/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:30
a=sendrecv
`),
		addr: "192.168.1.50", port: 16450, transport: "RTP/AVP", media: 1, dir: SendRecv, ptime: 30, formats: 2,
		negErr: ErrNoCommonCodec,
	},
	{
		name: "opus and G722 only",
		body: crlf(`
v=0
o=- 2 2 IN IP4 192.0.2.2
s=-
c=IN IP4 192.0.2.2
t=0 0
m=audio 5004 RTP/AVP 111 9 110
a=rtpmap:111 opus/48000/2
a=rtpmap:9 G722/8000
a=rtpmap:110 telephone-event/48000
`),
		addr: "192.0.2.2", port: 5004, transport: "RTP/AVP", media: 1, dir: SendRecv, formats: 3,
		negErr: ErrNoCommonCodec,
	},
	{
		name: "SDES-SRTP only (RTP/SAVP): not yet",
		body: crlf(`
v=0
o=- 4 4 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.3
t=0 0
m=audio 5004 RTP/SAVP 0 8 101
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32
a=rtpmap:101 telephone-event/8000
a=sendrecv
`),
		addr: "192.0.2.3", port: 5004, transport: "RTP/SAVP", media: 1, dir: SendRecv, formats: 3,
		negErr: ErrNoCommonCodec,
	},
	{
		name: "WebRTC browser (UDP/TLS/RTP/SAVPF, ICE, DTLS)",
		body: crlf(`
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0
a=ice-ufrag:Oyef
a=ice-pwd:5XLVmJdwDpFp+yITcTGRGYLt
a=ice-options:trickle
a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=sendrecv
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:3184912831 cname:Lj0OuwqUyk8Q6TUW
`),
		addr: "0.0.0.0", port: 9, transport: "UDP/TLS/RTP/SAVPF", media: 1, dir: SendOnly, hold: true, formats: 8,
		negErr: ErrNoCommonCodec,
	},

	// 488: no audio.
	{name: "video only", parseErr: ErrNoAudio, body: crlf(`
v=0
o=- 5 5 IN IP4 192.0.2.4
s=-
c=IN IP4 192.0.2.4
t=0 0
m=video 5006 RTP/AVP 96
a=rtpmap:96 H264/90000
`)},
	{name: "no m= line", parseErr: ErrNoAudio, body: crlf(`
v=0
o=- 5 5 IN IP4 192.0.2.4
s=-
c=IN IP4 192.0.2.4
t=0 0
`)},
	{name: "audio disabled with port 0", parseErr: ErrNoAudio, body: crlf(`
v=0
o=- 5 6 IN IP4 192.0.2.4
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 0 RTP/AVP 0
`)},
	{name: "T.38 re-INVITE from a fax gateway", parseErr: ErrNoAudio, body: crlf(`
v=0
o=- 11 12 IN IP4 192.0.2.9
s=-
c=IN IP4 192.0.2.9
t=0 0
m=image 4002 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxFillBitRemoval:0
a=T38FaxTranscodingMMR:0
a=T38FaxTranscodingJBIG:0
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:2000
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPRedundancy
`)},

	// Delayed offer.
	{name: "empty body", parseErr: ErrNoOffer, body: ""},
	{name: "blank lines only", parseErr: ErrNoOffer, body: "\r\n\r\n"},

	// 400: malformed.
	{name: "not SDP", parseErr: ErrMalformed, body: "hello, this is not SDP\r\n"},
	{name: "missing v=", parseErr: ErrMalformed, body: crlf(`
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 0
`)},
	{name: "port not a number", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio five RTP/AVP 0
`)},
	{name: "port above 65535", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 70000 RTP/AVP 0
`)},
	{name: "encoding name instead of payload type", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP PCMU
`)},
	{name: "payload type above 127", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 200
`)},
	{name: "no c= anywhere", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
t=0 0
m=audio 5004 RTP/AVP 0
`)},
	{name: "host name in c=", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 pbx.example.com
t=0 0
m=audio 5004 RTP/AVP 0
`)},
	{name: "IP6 address under IP4", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 2001:db8::1
t=0 0
m=audio 5004 RTP/AVP 0
`)},
	{name: "rtpmap without clock rate", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 0 101
a=rtpmap:101 telephone-event
`)},
	{name: "rtpmap with a bad payload type", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 0
a=rtpmap:zero PCMU/8000
`)},
	{name: "unknown line type", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
x=what
m=audio 5004 RTP/AVP 0
`)},
	{name: "bad bandwidth line", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 0
b=lots
`)},
	{name: "unknown network type", parseErr: ErrMalformed, body: crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=ATM NSAP 47.0005.80.ffe100.0000.f21a.01cf.0000
t=0 0
m=audio 5004 RTP/AVP 0
`)},
	{name: "binary junk", parseErr: ErrMalformed, body: "v=0\r\n\x00\xff\xfe=\x01\r\n"},
}
