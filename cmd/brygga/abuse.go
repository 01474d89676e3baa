package main

import (
	"log/slog"

	"brygga/config"
	"brygga/events"
	"brygga/metrics"
	"brygga/pin"
)

// pinGuard is the PIN lockout of sip.pin_lockout. Trusted sources (the
// PBX) are counted per room only: locking the PBX out would lock out
// every caller behind it.
func pinGuard(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, bus *events.Bus) *pin.Lockout {
	l := cfg.SIP.PINLockout
	return &pin.Lockout{
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
