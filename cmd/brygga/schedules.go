package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"brygga/api"
	"brygga/booking"
	"brygga/calendar"
	"brygga/conference"
	"brygga/config"
	"brygga/events"
	"brygga/invites"
	"brygga/mailer"
	"brygga/scheduler"
	"brygga/store"
)

// schedules joins the calendar side of the bridge: the Booker deciding and
// storing meetings, the Desk that takes invites by mail and answers them,
// and the views the API and the call path need of them.
type schedules struct {
	booker  *booking.Booker
	desk    *invites.Desk
	windows *scheduler.Windows
	log     *slog.Logger
}

func newSchedules(cfg *config.Config, db *store.DB, rooms *store.Rooms, log *slog.Logger) *schedules {
	b := &booking.Booker{DB: db, Rooms: rooms, Defaults: cfg.Defaults, PINs: cfg.MeetingPINs, Logger: log}
	var out *mailer.Server
	if cfg.Mail.SMTP != "" {
		out = &mailer.Server{URL: cfg.Mail.SMTP}
	}
	return &schedules{
		booker: b,
		desk: &invites.Desk{Booker: b, Mail: out, From: cfg.Mail.From, Address: cfg.Mail.Address, AuthservID: cfg.Mail.AuthservID,
			Defaults: cfg.Defaults, Logger: log, MaxConnsPerSource: cfg.Mail.MaxConnectionsPerSource},
		log: log,
	}
}

// keepWindows arms jobs at every scheduled meeting's opening, start and
// end (events for operators), rebuilt from the store now and after every
// change.
func (s *schedules) keepWindows(sch *scheduler.Scheduler, bus *events.Bus) {
	publish := func(typ string) func(scheduler.Window) {
		return func(w scheduler.Window) {
			s.log.Info("scheduled meeting", "event", typ, "room", w.Room, "schedule", w.ID)
			bus.Publish(events.Event{Type: typ, Room: w.Room,
				Data: map[string]any{"schedule": w.ID, "start": w.Start, "end": w.End}})
		}
	}
	s.windows = &scheduler.Windows{
		S: sch,
		Source: func(from, to time.Time) ([]scheduler.Window, error) {
			ms, err := s.booker.Upcoming(from, to)
			var out []scheduler.Window
			for _, m := range ms {
				early := s.booker.Defaults.EarlyJoinMinutes
				if r, ok := s.booker.Rooms.Room(m.Room); ok {
					early = r.Settings.EarlyJoinMinutes
				}
				out = append(out, scheduler.Window{ID: m.ScheduleID, Room: m.Room,
					Open: m.Start.Add(-time.Duration(early) * time.Minute), Start: m.Start, End: m.End})
			}
			return out, err
		},
		OnOpen: publish(events.MeetingOpened), OnStart: publish(events.MeetingStarted), OnEnd: publish(events.MeetingEnded),
		OnError: func(err error) { s.log.Error("scheduled meetings: reading windows", "err", err) },
	}
	s.desk.Changed = s.windows.Rebuild
	s.windows.Rebuild()
}

// listen takes invites by SMTP or LMTP on spec (mail.listen); "" takes
// none. The returned function stops it.
func (s *schedules) listen(spec string, stdout io.Writer) (stop func(), err error) {
	if spec == "" {
		return func() {}, nil
	}
	if s.desk.Mail == nil {
		s.log.Warn("mail.listen is set but mail.smtp is not: invites are booked, but organizers get no reply and no PIN (see the API)")
	}
	l, lmtp, err := invites.Listen(spec)
	if err != nil {
		return nil, fmt.Errorf("mail.listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.desk.Serve(ctx, l, lmtp); err != nil {
			s.log.Error("invites: mail intake stopped", "err", err)
		}
	}()
	proto := "smtp"
	if lmtp {
		proto = "lmtp"
	}
	fmt.Fprintf(stdout, "brygga %s: invites by %s on %s\n", version, proto, l.Addr())
	return func() { cancel(); <-done }, nil
}

// List, Get and Delete serve the API.
func (s *schedules) List() ([]booking.View, error)       { return s.booker.List() }
func (s *schedules) Get(id string) (booking.View, error) { return s.booker.Get(id) }
func (s *schedules) Delete(id string) error {
	err := s.booker.Delete(id)
	if s.windows != nil {
		s.windows.Rebuild()
	}
	return err
}

// Submit is POST /api/v1/schedules: the object is booked as if it had come
// by mail, and the organizer gets the same answer by mail.
func (s *schedules) Submit(ctx context.Context, ics []byte) ([]api.Outcome, error) {
	req, err := calendar.Parse(ics, time.Now())
	var rej *calendar.Rejection
	switch {
	case errors.As(err, &rej):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %v", store.ErrInvalid, err)
	}
	var out []api.Outcome
	for _, o := range s.desk.Submit(ctx, req, nil) {
		out = append(out, api.Outcome{UID: o.UID, Room: o.Room, Action: o.Action, Reason: o.Reason,
			PIN: o.PIN, Replied: o.Replied, MailError: o.MailError})
	}
	return out, nil
}

// Lookup and Current are the call path's view (conference.Meetings). A
// store failure is logged and reads as no meeting: the room's own PINs
// still work.
func (s *schedules) Lookup(room, entered string, now time.Time) (conference.ScheduledMeeting, conference.MeetingState) {
	m, st, err := s.booker.Lookup(room, entered, now)
	if err != nil {
		s.log.Error("scheduled meetings: lookup failed", "room", room, "err", err)
		return conference.ScheduledMeeting{}, conference.NoMeeting
	}
	state := conference.NoMeeting
	switch st {
	case booking.Open:
		state = conference.Open
	case booking.NotYet:
		state = conference.NotYet
	case booking.Ended, booking.Cancelled:
		state = conference.Ended
	}
	return scheduled(m), state
}

func (s *schedules) Current(room string, now time.Time) (conference.ScheduledMeeting, bool) {
	m, ok, err := s.booker.Current(room, now)
	if err != nil {
		s.log.Error("scheduled meetings: lookup failed", "room", room, "err", err)
		return conference.ScheduledMeeting{}, false
	}
	return scheduled(m), ok
}

func scheduled(m booking.Meeting) conference.ScheduledMeeting {
	return conference.ScheduledMeeting{ID: m.ScheduleID, Summary: m.Summary, Start: m.Start, End: m.End,
		Record: m.Record, Sensitive: m.Sensitive}
}
