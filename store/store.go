// Package store is where brygga keeps what must outlive a call, in a
// database (DB), an embedded SQLite file or PostgreSQL shared by several
// nodes: the directory of rooms (Rooms), which the admin API changes while
// calls read it; recordings and their delivery queue; and meetings
// scheduled from calendar invites with their occurrences.
package store

import "brygga/config"

// Directory answers which extensions are rooms and what their settings are.
// The SIP layer asks it for every INVITE, so lookups must be cheap.
type Directory interface {
	Room(extension string) (config.Room, bool)
}

// ConfigDirectory is the directory as the config file and the open-rooms
// pattern describe it.
type ConfigDirectory struct {
	Config *config.Config
}

// Room implements Directory.
func (d ConfigDirectory) Room(extension string) (config.Room, bool) {
	return d.Config.Room(extension)
}
