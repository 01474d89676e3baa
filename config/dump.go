package config

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// The dump is a config file: the same keys as docs/config.md, so what an
// operator sees in `brygga serve`'s debug output can be pasted back into a
// file. Room settings equal to defaults are left out, as they would be in a
// hand-written file.

type dumpFile struct {
	Data       string         `yaml:"data"`
	LogLevel   string         `yaml:"log_level"`
	Store      dumpStore      `yaml:"store"`
	Cluster    dumpCluster    `yaml:"cluster"`
	SIP        dumpSIP        `yaml:"sip"`
	Media      dumpMedia      `yaml:"media"`
	API        dumpAPI        `yaml:"api"`
	Mail       dumpMail       `yaml:"mail"`
	Recordings dumpRecordings `yaml:"recordings"`
	Voicemail  dumpVoicemail  `yaml:"voicemail"`
	Mixer      dumpMixer      `yaml:"mixer"`
	Defaults   dumpSettings   `yaml:"defaults"`
	PromptsDir string         `yaml:"prompts_dir"`
	Grace      string         `yaml:"shutdown_grace"`
	MeetingPIN string         `yaml:"meeting_pins"`
	OpenRooms  string         `yaml:"open_rooms"`
	Directory  []dumpRoom     `yaml:"directory"`
}

type dumpStore struct {
	URL string `yaml:"url"`
}

type dumpCluster struct {
	NodeID       string `yaml:"node_id"`
	Advertise    string `yaml:"advertise"`
	Heartbeat    string `yaml:"heartbeat"`
	APIAdvertise string `yaml:"api_advertise"`
}

type dumpSIP struct {
	Listen    []string `yaml:"listen,flow"`
	Trusted   []string `yaml:"trusted,flow"`
	Allow     []string `yaml:"allow,flow"`
	MaxCalls  int      `yaml:"max_calls"`
	UserAgent string   `yaml:"user_agent"`

	MaxCallsPerSource int            `yaml:"max_calls_per_source"`
	MessageTimeout    string         `yaml:"message_timeout"`
	IdleTimeout       string         `yaml:"idle_timeout"`
	MaxConns          int            `yaml:"max_connections"`
	MaxConnsPerSource int            `yaml:"max_connections_per_source"`
	RateLimit         dumpRateLimit  `yaml:"rate_limit"`
	PINLockout        dumpPINLockout `yaml:"pin_lockout"`
	TLS               *dumpTLS       `yaml:"tls,omitempty"`
	Auth              *dumpAuth      `yaml:"auth,omitempty"`
}

type dumpAuth struct {
	Realm string     `yaml:"realm"`
	Users []dumpUser `yaml:"users"`
}

type dumpUser struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

func dumpAuthOf(a Auth, secret func(string) string) *dumpAuth {
	if len(a.Users) == 0 {
		return nil
	}
	d := &dumpAuth{Realm: a.Realm}
	for _, u := range a.Users {
		d.Users = append(d.Users, dumpUser{User: u.User, Password: secret(u.Password)})
	}
	return d
}

type dumpTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

func dumpTLSOf(t TLS) *dumpTLS {
	if t.Cert == "" {
		return nil
	}
	return &dumpTLS{Cert: t.Cert, Key: t.Key}
}

type dumpRateLimit struct {
	InvitesPerSecond  int    `yaml:"invites_per_second"`
	InviteBurst       int    `yaml:"invite_burst"`
	RequestsPerSecond int    `yaml:"requests_per_second"`
	RequestBurst      int    `yaml:"request_burst"`
	DropFor           string `yaml:"drop_for"`
}

type dumpPINLockout struct {
	Failures     int    `yaml:"failures"`
	RoomFailures int    `yaml:"room_failures"`
	Window       string `yaml:"window"`
	Lock         string `yaml:"lock"`
}

type dumpMedia struct {
	IP          string `yaml:"ip"`
	Ports       string `yaml:"ports"`
	Symmetric   string `yaml:"symmetric"`
	RTPTimeout  string `yaml:"rtp_timeout"`
	HoldTimeout string `yaml:"hold_timeout"`
}

type dumpAPI struct {
	Listen  string      `yaml:"listen"`
	Metrics string      `yaml:"metrics,omitempty"`
	TLS     *dumpTLS    `yaml:"tls,omitempty"`
	Hosts   []string    `yaml:"hosts,omitempty"`
	Tokens  []dumpToken `yaml:"tokens"`

	MaxConnsPerSource int `yaml:"max_connections_per_source"`
}

type dumpToken struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	Role  string `yaml:"role"`
}

type dumpMail struct {
	SMTP       string `yaml:"smtp"`
	From       string `yaml:"from"`
	Listen     string `yaml:"listen"`
	Address    string `yaml:"address"`
	AuthservID string `yaml:"authserv_id,omitempty"`

	MaxConnsPerSource int `yaml:"max_connections_per_source"`
}

type dumpRecordings struct {
	KeepDays   int    `yaml:"keep_days"`
	MaxEmailMB int    `yaml:"max_email_mb"`
	LinkURL    string `yaml:"link_url"`
}

type dumpVoicemail struct {
	SIPProxy   string `yaml:"sip_proxy"`
	MaxSeconds int    `yaml:"max_seconds"`
}

type dumpMixer struct {
	MaxTalkers int `yaml:"max_talkers"`
}

type dumpSettings struct {
	Language         string `yaml:"language"`
	MaxMinutes       int    `yaml:"max_minutes"`
	WarnMinutes      []int  `yaml:"warn_minutes,flow"`
	EarlyJoinMinutes int    `yaml:"early_join_minutes"`
	Names            bool   `yaml:"names"`
	NamesMaxRoom     int    `yaml:"names_max_room"`
	Lobby            bool   `yaml:"lobby"`
	WaitForHost      bool   `yaml:"wait_for_host"`
	EndWithHost      bool   `yaml:"end_with_host"`
	Record           bool   `yaml:"record"`
}

// dumpOverrides holds only what a room changes; nil = inherited.
type dumpOverrides struct {
	Language         *string `yaml:"language,omitempty"`
	MaxMinutes       *int    `yaml:"max_minutes,omitempty"`
	WarnMinutes      *[]int  `yaml:"warn_minutes,omitempty,flow"`
	EarlyJoinMinutes *int    `yaml:"early_join_minutes,omitempty"`
	Names            *bool   `yaml:"names,omitempty"`
	NamesMaxRoom     *int    `yaml:"names_max_room,omitempty"`
	Lobby            *bool   `yaml:"lobby,omitempty"`
	WaitForHost      *bool   `yaml:"wait_for_host,omitempty"`
	EndWithHost      *bool   `yaml:"end_with_host,omitempty"`
	Record           *bool   `yaml:"record,omitempty"`
}

type dumpRoom struct {
	Extension     string   `yaml:"extension"`
	Name          string   `yaml:"name,omitempty"`
	Email         string   `yaml:"email,omitempty"`
	Delegates     []string `yaml:"delegates,omitempty,flow"`
	Voicemail     string   `yaml:"voicemail,omitempty"`
	PIN           string   `yaml:"pin,omitempty"`
	HostPIN       string   `yaml:"host_pin,omitempty"`
	Sensitive     bool     `yaml:"sensitive,omitempty"`
	dumpOverrides `yaml:",inline"`
}

const redactedText = "***"

// Redacted is the effective configuration as a YAML config file with the
// secrets (API tokens, PINs, the SMTP password) replaced by "***". It is
// safe to log.
func (c *Config) Redacted() string { return c.dump(true) }

// String is Redacted, so printing a *Config never shows a secret.
func (c *Config) String() string { return c.Redacted() }

func (c *Config) dump(redact bool) string {
	secret := func(s string) string {
		if redact && s != "" {
			return redactedText
		}
		return s
	}
	f := dumpFile{
		Data:     c.Data,
		LogLevel: c.LogLevel,
		Store:    dumpStore(c.Store),
		Cluster:  dumpCluster{NodeID: c.Cluster.NodeID, Advertise: c.Cluster.Advertise, Heartbeat: formatDuration(c.Cluster.Heartbeat), APIAdvertise: c.Cluster.APIAdvertise},
		SIP: dumpSIP{
			Listen:    []string{},
			Trusted:   []string{},
			Allow:     []string{},
			MaxCalls:  c.SIP.MaxCalls,
			UserAgent: c.SIP.UserAgent,

			MaxCallsPerSource: c.SIP.MaxCallsPerSource,
			MessageTimeout:    formatDuration(c.SIP.Connections.MessageTimeout),
			IdleTimeout:       formatDuration(c.SIP.Connections.IdleTimeout),
			MaxConns:          c.SIP.Connections.Max,
			MaxConnsPerSource: c.SIP.Connections.MaxPerSource,
			TLS:               dumpTLSOf(c.SIP.TLS),
			Auth:              dumpAuthOf(c.SIP.Auth, secret),
			RateLimit: dumpRateLimit{
				InvitesPerSecond:  c.SIP.RateLimit.InvitesPerSecond,
				InviteBurst:       c.SIP.RateLimit.InviteBurst,
				RequestsPerSecond: c.SIP.RateLimit.RequestsPerSecond,
				RequestBurst:      c.SIP.RateLimit.RequestBurst,
				DropFor:           formatDuration(c.SIP.RateLimit.DropFor),
			},
			PINLockout: dumpPINLockout{
				Failures:     c.SIP.PINLockout.Failures,
				RoomFailures: c.SIP.PINLockout.RoomFailures,
				Window:       formatDuration(c.SIP.PINLockout.Window),
				Lock:         formatDuration(c.SIP.PINLockout.Lock),
			},
		},
		Media: dumpMedia{
			Ports:       fmt.Sprintf("%d-%d", c.Media.PortLo, c.Media.PortHi),
			Symmetric:   c.Media.Symmetric,
			RTPTimeout:  formatDuration(c.Media.RTPTimeout),
			HoldTimeout: formatDuration(c.Media.HoldTimeout),
		},
		API: dumpAPI{Listen: c.API.Listen, Metrics: c.API.Metrics, TLS: dumpTLSOf(c.API.TLS), Hosts: c.API.Hosts, Tokens: []dumpToken{},
			MaxConnsPerSource: c.API.MaxConnectionsPerSource},
		Mail: dumpMail{
			SMTP:       c.Mail.SMTP,
			From:       c.Mail.From,
			Listen:     c.Mail.Listen,
			Address:    c.Mail.Address,
			AuthservID: c.Mail.AuthservID,

			MaxConnsPerSource: c.Mail.MaxConnectionsPerSource,
		},
		Recordings: dumpRecordings(c.Recordings),
		Voicemail:  dumpVoicemail(c.Voicemail),
		Mixer:      dumpMixer(c.Mixer),
		Defaults:   dumpSettings(c.Defaults),
		PromptsDir: c.PromptsDir,
		Grace:      formatDuration(c.ShutdownGrace),
		MeetingPIN: c.MeetingPINs,
		OpenRooms:  c.OpenRooms,
		Directory:  []dumpRoom{},
	}
	if c.Media.IP.IsValid() {
		f.Media.IP = c.Media.IP.String()
	}
	if redact {
		f.Mail.SMTP = RedactURL(c.Mail.SMTP)
		f.Store.URL = RedactURL(c.Store.URL)
	}
	for _, l := range c.SIP.Listen {
		f.SIP.Listen = append(f.SIP.Listen, l.Transport+":"+l.Addr)
	}
	for _, p := range c.SIP.Trusted {
		f.SIP.Trusted = append(f.SIP.Trusted, p.String())
	}
	for _, p := range c.SIP.Allow {
		f.SIP.Allow = append(f.SIP.Allow, p.String())
	}
	for _, t := range c.API.Tokens {
		f.API.Tokens = append(f.API.Tokens, dumpToken{Name: t.Name, Token: secret(t.Token), Role: t.Role})
	}
	for _, r := range c.Directory {
		f.Directory = append(f.Directory, dumpRoom{
			Extension:     r.Extension,
			Name:          r.Name,
			Email:         r.Email,
			Delegates:     r.Delegates,
			Voicemail:     r.Voicemail,
			PIN:           secret(r.PIN),
			HostPIN:       secret(r.HostPIN),
			Sensitive:     r.Sensitive,
			dumpOverrides: overrides(c.Defaults, r.Settings),
		})
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		// Only plain strings, ints and bools go in; Marshal cannot fail on
		// them, and a dump is not worth a panic if it ever did.
		return "# config dump failed: " + err.Error() + "\n"
	}
	return string(b)
}

func overrides(def, s RoomSettings) dumpOverrides {
	var o dumpOverrides
	if s.Language != def.Language {
		o.Language = &s.Language
	}
	if s.MaxMinutes != def.MaxMinutes {
		o.MaxMinutes = &s.MaxMinutes
	}
	if !slices.Equal(s.WarnMinutes, def.WarnMinutes) {
		w := slices.Clone(s.WarnMinutes)
		if w == nil {
			w = []int{}
		}
		o.WarnMinutes = &w
	}
	if s.EarlyJoinMinutes != def.EarlyJoinMinutes {
		o.EarlyJoinMinutes = &s.EarlyJoinMinutes
	}
	if s.Names != def.Names {
		o.Names = &s.Names
	}
	if s.NamesMaxRoom != def.NamesMaxRoom {
		o.NamesMaxRoom = &s.NamesMaxRoom
	}
	if s.Lobby != def.Lobby {
		o.Lobby = &s.Lobby
	}
	if s.WaitForHost != def.WaitForHost {
		o.WaitForHost = &s.WaitForHost
	}
	if s.EndWithHost != def.EndWithHost {
		o.EndWithHost = &s.EndWithHost
	}
	if s.Record != def.Record {
		o.Record = &s.Record
	}
	return o
}
