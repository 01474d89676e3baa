package api

import (
	"net/http"
	"slices"

	"brygga/config"
	"brygga/store"
)

// roomJSON is a directory room as the API shows it. PINs never leave the
// bridge; has_pin and has_host_pin say whether one is set.
type roomJSON struct {
	Extension        string   `json:"extension"`
	Name             string   `json:"name"`
	Email            string   `json:"email"`
	Delegates        []string `json:"delegates"`
	Voicemail        string   `json:"voicemail"`
	Sensitive        bool     `json:"sensitive"`
	HasPIN           bool     `json:"has_pin"`
	HasHostPIN       bool     `json:"has_host_pin"`
	Language         string   `json:"language"`
	MaxMinutes       int      `json:"max_minutes"`
	WarnMinutes      []int    `json:"warn_minutes"`
	EarlyJoinMinutes int      `json:"early_join_minutes"`
	Names            bool     `json:"names"`
	NamesMaxRoom     int      `json:"names_max_room"`
	Lobby            bool     `json:"lobby"`
	WaitForHost      bool     `json:"wait_for_host"`
	EndWithHost      bool     `json:"end_with_host"`
	Record           bool     `json:"record"`
}

// roomIn is a PUT body. Settings are pointers so an omitted key takes
// Options.Defaults while an explicit false or 0 is kept. pin and host_pin
// follow store.PINChange: omitted keeps the PIN, "" removes it, anything
// else replaces it, since a client cannot send back a PIN it never sees.
type roomIn struct {
	Extension        *string  `json:"extension"`
	Name             string   `json:"name"`
	Email            string   `json:"email"`
	Delegates        []string `json:"delegates"`
	Voicemail        string   `json:"voicemail"`
	Sensitive        bool     `json:"sensitive"`
	PIN              *string  `json:"pin"`
	HostPIN          *string  `json:"host_pin"`
	HasPIN           *bool    `json:"has_pin" api:"readonly"`
	HasHostPIN       *bool    `json:"has_host_pin" api:"readonly"`
	Language         *string  `json:"language"`
	MaxMinutes       *int     `json:"max_minutes"`
	WarnMinutes      *[]int   `json:"warn_minutes"`
	EarlyJoinMinutes *int     `json:"early_join_minutes"`
	Names            *bool    `json:"names"`
	NamesMaxRoom     *int     `json:"names_max_room"`
	Lobby            *bool    `json:"lobby"`
	WaitForHost      *bool    `json:"wait_for_host"`
	EndWithHost      *bool    `json:"end_with_host"`
	Record           *bool    `json:"record"`
}

func (s *server) roomOf(r config.Room) roomJSON {
	pin, hostPIN := s.o.Directory.HasPINs(r.Extension)
	st := r.Settings
	warn := slices.Clone(st.WarnMinutes)
	if warn == nil {
		warn = []int{}
	}
	delegates := slices.Clone(r.Delegates)
	if delegates == nil {
		delegates = []string{}
	}
	return roomJSON{
		Extension: r.Extension, Name: r.Name, Email: r.Email, Delegates: delegates, Voicemail: r.Voicemail,
		Sensitive: r.Sensitive, HasPIN: pin, HasHostPIN: hostPIN,
		Language: st.Language, MaxMinutes: st.MaxMinutes, WarnMinutes: warn,
		EarlyJoinMinutes: st.EarlyJoinMinutes, Names: st.Names, NamesMaxRoom: st.NamesMaxRoom,
		Lobby: st.Lobby, WaitForHost: st.WaitForHost, EndWithHost: st.EndWithHost, Record: st.Record,
	}
}

func (s *server) noDirectory(w http.ResponseWriter) bool {
	if s.o.Directory == nil {
		writeError(w, http.StatusNotImplemented, "this bridge has no room directory store")
		return true
	}
	return false
}

func (s *server) listRooms(w http.ResponseWriter, r *http.Request) {
	if s.noDirectory(w) {
		return
	}
	rooms := s.o.Directory.List()
	out := make([]roomJSON, 0, len(rooms))
	for _, rm := range rooms {
		out = append(out, s.roomOf(rm))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getRoom(w http.ResponseWriter, r *http.Request) {
	if s.noDirectory(w) {
		return
	}
	rm, ok := s.o.Directory.Get(r.PathValue("ext"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room in the directory")
		return
	}
	writeJSON(w, http.StatusOK, s.roomOf(rm))
}

func (s *server) putRoom(w http.ResponseWriter, r *http.Request) {
	if s.noDirectory(w) {
		return
	}
	var in roomIn
	if !decode(w, r, &in, false) {
		return
	}
	ext := r.PathValue("ext")
	switch {
	case in.Extension != nil && *in.Extension != ext:
		writeError(w, http.StatusBadRequest, "extension: "+*in.Extension+" differs from the path's "+ext)
		return
	case in.HasPIN != nil || in.HasHostPIN != nil:
		writeError(w, http.StatusBadRequest, "has_pin and has_host_pin are read-only; send pin or host_pin to change a PIN")
		return
	}
	room := config.Room{
		Extension: ext, Name: in.Name, Email: in.Email, Delegates: in.Delegates, Voicemail: in.Voicemail,
		Sensitive: in.Sensitive, Settings: s.settings(in),
	}
	created, err := s.o.Directory.Put(room, store.PINChange{PIN: in.PIN, HostPIN: in.HostPIN})
	if err != nil {
		s.fail(w, err)
		return
	}
	saved, ok := s.o.Directory.Get(ext)
	if !ok {
		// Deleted by another request in between; what we stored is still
		// the best answer to this one.
		saved = room
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/api/v1/rooms/"+ext)
	}
	writeJSON(w, code, s.roomOf(saved))
}

// settings applies the keys a PUT body sets over Options.Defaults.
func (s *server) settings(in roomIn) config.RoomSettings {
	st := s.o.Defaults
	st.WarnMinutes = slices.Clone(st.WarnMinutes)
	set := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setB := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	if in.Language != nil {
		st.Language = *in.Language
	}
	set(&st.MaxMinutes, in.MaxMinutes)
	if in.WarnMinutes != nil {
		st.WarnMinutes = slices.Clone(*in.WarnMinutes)
	}
	set(&st.EarlyJoinMinutes, in.EarlyJoinMinutes)
	setB(&st.Names, in.Names)
	set(&st.NamesMaxRoom, in.NamesMaxRoom)
	setB(&st.Lobby, in.Lobby)
	setB(&st.WaitForHost, in.WaitForHost)
	setB(&st.EndWithHost, in.EndWithHost)
	setB(&st.Record, in.Record)
	// As in the config file: a sensitive room never inherits automatic
	// recording, but asking for it explicitly is an error the store reports.
	if in.Sensitive && in.Record == nil {
		st.Record = false
	}
	return st
}

func (s *server) deleteRoom(w http.ResponseWriter, r *http.Request) {
	if s.noDirectory(w) {
		return
	}
	ok, err := s.o.Directory.Delete(r.PathValue("ext"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "no such room in the directory")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
