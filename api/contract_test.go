package api

import (
	"brygga/conference"
	"brygga/store"
)

// The real bridge and store are what cmd/brygga hands to New; these fail
// to compile the moment either drifts from the interfaces the fakes test.
var (
	_ Conferences = (*conference.Bridge)(nil)
	_ Directory   = (*store.Rooms)(nil)
)
