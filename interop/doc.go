// Package interop proves brygga against real SIP software: SIPp dials in,
// keys the PIN as RFC 4733 events and streams a tone, and runs a scenario
// for every signalling path (CANCEL races, re-INVITE, hold, INFO, BYE in
// the IVR, 481s, retransmissions, TCP, delayed offer, digest
// authentication); baresip and linphonec join and record what they hear,
// baresip also over TLS with SRTP in a sensitive room; Kamailio sits in
// front as a record-routing proxy; a brygga/phone caller in the same room
// checks with a Goertzel detector that each side hears the other and not
// itself. Other tests kill the bridge (SIGKILL, SIGTERM with a grace) and
// check that nothing stored is lost.
//
// The tests build cmd/brygga once, run it as a separate process on loopback
// ports, and stop it with SIGTERM, expecting exit status 0. They skip when
// a peer (sipp, baresip, linphonec, kamailio) is not installed, and fail
// instead when CI=true, so CI cannot pass without having run them.
// Everything lives in the _test.go files; this package has no API.
package interop
