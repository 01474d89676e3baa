package main

import (
	"log/slog"

	"brygga/config"
	"brygga/events"
	"brygga/metrics"
	"brygga/pin"
	"brygga/store"
)

// pinGuard is the PIN lockout of sip.pin_lockout. Trusted sources (the
// PBX) are counted per room only: locking the PBX out would lock out
// every caller behind it. On a store the nodes of a cluster share
// (PostgreSQL) the counts and locks are kept there, so a guesser's tries
// add up whichever node they reach.
func pinGuard(cfg *config.Config, db *store.DB, log *slog.Logger, m *metrics.Metrics, bus *events.Bus) *pin.Lockout {
	l := cfg.SIP.PINLockout
	var shared pin.Tallies
	if db.Shared() {
		shared = db.PINTallies()
	}
	return &pin.Lockout{
		Shared: shared,
		OnLockout: func(scope, source, room string) {
			m.PINLockout(scope)
			bus.Publish(events.Event{Type: events.PINLockout, Room: room,
				Data: map[string]any{"scope": scope, "source": source}})
		},
		Failures:     l.Failures,
		RoomFailures: l.RoomFailures,
		Window:       l.Window,
		Lock:         l.Lock,
		Exempt:       cfg.SIP.IsTrusted,
		Logger:       log,
	}
}

// authUsers is sip.auth's accounts as the SIP server takes them.
func authUsers(a config.Auth) map[string]string {
	if len(a.Users) == 0 {
		return nil
	}
	m := make(map[string]string, len(a.Users))
	for _, u := range a.Users {
		m[u.User] = u.Password
	}
	return m
}
