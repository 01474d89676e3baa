// Package interop proves brygga against real SIP software: SIPp dials in,
// keys the PIN as RFC 4733 events and streams a tone; baresip joins and
// records what it hears; a brygga/phone caller in the same room checks with a
// Goertzel detector that each side hears the other and not itself.
//
// The tests build cmd/brygga once, run it as a separate process on loopback
// ports, and stop it with SIGTERM, expecting exit status 0. They skip when
// sipp or baresip is not installed, and fail instead when CI=true, so CI
// cannot pass without having run them. Everything lives in the _test.go
// files; this package has no API.
package interop
