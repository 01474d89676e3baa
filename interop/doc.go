// Package interop proves brygga against real SIP software. It is the
// harness its test packages share: it builds cmd/brygga once per test
// package (with -race when the tests run with it), runs it as a separate
// process on loopback addresses (Bridge, StartBridgeIn, StartBridgeAt),
// dials it with the brygga/phone test phone, SIPp (RunSIPp), baresip and
// linphonec, and checks with a Goertzel detector that each caller hears
// the others and never itself (CheckHears, JoinAndListen).
//
// The tests are split by concern so that each package's run stays well
// inside go test's ten-minute limit and the packages run side by side:
//
//   - interop: baresip (also TLS with SRTP in a sensitive room), linphonec,
//     the admin API, recordings and their delivery, drain and restart,
//     Outlook scheduling, load and soak;
//   - interop/sipp: SIPp for every signalling path (CANCEL races,
//     re-INVITE, hold, INFO, BYE in the IVR, 481s, retransmissions, TCP,
//     delayed offer, digest authentication) and the keypad;
//   - interop/cluster: Kamailio in front with the shipped config, nodes
//     sharing PostgreSQL (room leases and 302s, PIN lockouts, recordings);
//   - interop/attack: an attacker on another loopback address (forged RTP
//     and RFC 4733 digits, reflection, requests from outside a dialog,
//     slow and many connections).
//
// The tests skip when a peer (sipp, baresip, linphonec, kamailio,
// PostgreSQL) is not installed, and fail instead when CI=true, so CI
// cannot pass without having run them.
package interop
