// Package config builds brygga's settings from defaults, one YAML file,
// environment variables and command-line flags, in that order of increasing
// precedence. Every value is checked here, so the rest of the program can
// trust a *Config: a bad setting stops the bridge at start with the key that
// is wrong instead of failing on the first call that touches it.
//
// The file format is YAML only (the first design once mentioned TOML; one format
// keeps the error messages and the reference in docs/config.md exact).
package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of one `brygga serve`.
type Config struct {
	ConfigFile string // the file that was read; "" when none
	Data       string // folder for the SQLite database, recordings and delivery logs
	LogLevel   string // debug, info, warn or error
	Store      Store
	Cluster    Cluster

	SIP        SIP
	Media      Media
	API        API
	Mail       Mail
	Recordings Recordings
	Voicemail  Voicemail
	Mixer      Mixer

	// Defaults are the settings of every room that does not override them.
	Defaults RoomSettings

	PromptsDir string // "" = the built-in prompts

	// ShutdownGrace is how long running meetings may go on after SIGTERM
	// before they are ended with a spoken notice; 0 hangs up at once.
	// New calls are refused (503) from the signal on.
	ShutdownGrace time.Duration

	// MeetingPINs is the PIN a meeting booked from a calendar invite gets:
	// "meeting" (its own, mailed to the organizer) or "room" (the room's).
	MeetingPINs string

	// OpenRooms is the pattern source as written; "" turns open rooms off.
	// OpenRoomsRE is that pattern anchored at both ends, so it must match
	// the whole extension; nil when off. Room uses OpenRoomsRE only.
	OpenRooms   string
	OpenRoomsRE *regexp.Regexp

	// Directory holds the rooms with owners, in file order; each entry's
	// Settings are the defaults with the entry's own keys applied.
	Directory []Room
}

// Listen is one SIP listener.
type Listen struct {
	Transport string // "udp", "tcp" or "tls"
	Addr      string // host:port; an empty host listens on every address
}

// SIP holds the signalling settings.
type SIP struct {
	Listen []Listen
	// Trusted sources may assert caller ID (the PBX); a caller whose trusted
	// caller ID is a room's extension becomes that room's host.
	Trusted []netip.Prefix
	// Allow lists the sources that may send INVITE at all.
	Allow     []netip.Prefix
	MaxCalls  int    // calls beyond this get 486 Busy Here
	UserAgent string // User-Agent and Server header value

	// MaxCallsPerSource caps the calls from one untrusted address; more
	// get 486 Busy Here. 0: no cap.
	MaxCallsPerSource int
	// RateLimit limits the requests of each untrusted source.
	RateLimit RateLimit
	// PINLockout locks out PIN guessers per source and per room.
	PINLockout PINLockout
	// TLS is the certificate of the tls: listeners.
	TLS TLS
	// Auth lets sources outside Allow and Trusted in with SIP digest
	// authentication; without users they get 403.
	Auth Auth
	// Connections limits the TCP and TLS connections.
	Connections Connections
}

// Connections are the limits of SIP's TCP and TLS connections. Sources in
// Trusted are counted but never refused.
type Connections struct {
	// MessageTimeout: a message must be complete this long after its
	// first byte; a new connection's first message (the TLS handshake
	// included) this long after the connection was accepted.
	MessageTimeout time.Duration
	// IdleTimeout: a connection that carries no call may be quiet this
	// long between messages.
	IdleTimeout  time.Duration
	Max          int // connections open at once; more are closed at once. 0: no cap
	MaxPerSource int // from one address; 0: no cap
}

// Auth is the SIP digest realm and its accounts.
type Auth struct {
	Realm string
	Users []AuthUser
}

// AuthUser is one account for digest authentication.
type AuthUser struct {
	User, Password string
}

// TLS names a PEM certificate (chain) and its private key. Certificate is
// them loaded, by Parse, so that a bad file is a config error (exit 2)
// and not a failure at the first handshake.
type TLS struct {
	Cert, Key   string
	Certificate *tls.Certificate
}

// Config returns a server configuration with this certificate, TLS 1.2 at
// least (RFC 8996 retired 1.0 and 1.1; RFC 5630 asks SIP for 1.2).
func (t TLS) Config() *tls.Config {
	if t.Certificate == nil {
		return nil
	}
	return &tls.Config{Certificates: []tls.Certificate{*t.Certificate}, MinVersion: tls.VersionTLS12}
}

// RateLimit is the token bucket per source address: a source may send
// Burst requests at once and PerSecond on average; beyond that it gets
// 503 with Retry-After, and after three times the burst it is not answered
// at all for DropFor. A rate of 0 turns that limit off.
type RateLimit struct {
	InvitesPerSecond  int // new calls
	InviteBurst       int
	RequestsPerSecond int // every request, INVITEs included
	RequestBurst      int
	DropFor           time.Duration
}

// PINLockout is when wrong PINs lock a source or a room out.
type PINLockout struct {
	Failures     int           // wrong PINs from one source within Window
	RoomFailures int           // wrong PINs at one room within Window, from anyone
	Window       time.Duration // how long a wrong PIN counts
	Lock         time.Duration // how long a lock lasts
}

// IsTrusted reports whether a source address is in sip.trusted. IPv4
// addresses seen through a dual-stack socket (::ffff:a.b.c.d) count as IPv4.
func (s SIP) IsTrusted(a netip.Addr) bool { return containsAddr(s.Trusted, a) }

// IsAllowed reports whether a source address is in sip.allow.
func (s SIP) IsAllowed(a netip.Addr) bool { return containsAddr(s.Allow, a) }

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Media holds the RTP settings.
type Media struct {
	IP     netip.Addr // bound for RTP and written into SDP
	PortLo int        // even; first RTP port
	PortHi int        // odd; last RTCP port of the range
	// Symmetric is "auto", "always" or "never" (media.ParseSymmetric).
	Symmetric string
	// RTPTimeout hangs up on a caller that sent no RTP (nor RTCP) for
	// this long; 0 = never. HoldTimeout is the same while the caller
	// holds or sends nothing by its SDP; 0 = never (media.Timeouts).
	RTPTimeout  time.Duration
	HoldTimeout time.Duration
}

// API holds the admin HTTP API settings.
type API struct {
	Listen string // host:port
	Tokens []Token
	// Metrics is where /metrics is served: "" on the API's listener,
	// "off" nowhere, or a host:port of its own (so Prometheus can reach
	// it where the API must not be reachable).
	Metrics string
	// TLS, when a certificate is set, serves the API (and /metrics on
	// its listener) over HTTPS only.
	TLS TLS
	// Hosts are the host names (or addresses) the API answers to besides
	// Listen's own host, the address a request reached and, on a loopback
	// address, "localhost": a request whose Host header names anything
	// else is refused, so a web page whose name was rebound to the
	// bridge's address (DNS rebinding) cannot use a browser to reach it.
	// Lower case, without a trailing dot.
	Hosts []string
	// MaxConnectionsPerSource caps the connections one address holds
	// open to the API (and to a metrics listener of its own); more are
	// closed at once. 0: no cap.
	MaxConnectionsPerSource int
}

// Token is one bearer token of the admin API.
type Token struct {
	Name string
	// Token is the bearer token itself, or "sha256:" followed by the 64 hex
	// digits of its SHA-256 so the file need not hold the secret. The prefix
	// is required: a plain token of 64 hex digits (openssl rand -hex 32)
	// would otherwise be taken for a hash.
	Token string
	Role  string // "operator" (everything) or "viewer" (read only)
}

// Match reports whether a bearer token presented to the API is this token.
// Both sides are hashed before the constant-time compare so neither the
// content nor the length of the stored token leaks through timing.
func (t Token) Match(bearer string) bool {
	if bearer == "" || t.Token == "" {
		return false
	}
	got := sha256.Sum256([]byte(bearer))
	var want [sha256.Size]byte
	if h, ok := strings.CutPrefix(t.Token, tokenHashPrefix); ok {
		if n, err := hex.Decode(want[:], []byte(h)); err != nil || n != sha256.Size {
			return false
		}
	} else {
		want = sha256.Sum256([]byte(t.Token))
	}
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// String keeps the secret out of logs that print a Token with %v.
func (t Token) String() string { return t.Name + " (" + t.Role + ")" }

const tokenHashPrefix = "sha256:"

// Mail holds outgoing and incoming mail settings; all empty = no mail.
type Mail struct {
	SMTP    string // smtp://user:pass@host:port or smtps://…; holds a password
	From    string // From header of outgoing mail
	Listen  string // host:port (SMTP), lmtp:host:port or a unix socket path (LMTP)
	Address string // the address invites must be sent to
	// AuthservID is the authserv-id of the Authentication-Results
	// header (RFC 8601) the organization's mail server adds; set, the
	// intake takes that header's DKIM, SPF or DMARC verdict as proof of
	// the sender instead of comparing the envelope sender. "" = off.
	AuthservID string
	// MaxConnectionsPerSource caps the connections one address holds
	// open to the mail intake; more are closed at once. 0: no cap.
	MaxConnectionsPerSource int
}

// String keeps the SMTP password out of logs.
func (m Mail) String() string {
	return "smtp=" + RedactURL(m.SMTP) + " from=" + m.From + " listen=" + m.Listen + " address=" + m.Address + " authserv_id=" + m.AuthservID
}

// Recordings holds retention and delivery limits.
type Recordings struct {
	KeepDays   int    // days a recording is kept after successful delivery
	MaxEmailMB int    // larger recordings are mailed as a link; 0 = always a link
	LinkURL    string // base of links in mail (the admin API as mail readers reach it); "" = http://<api.listen>
}

// Voicemail holds voicemail delivery settings.
type Voicemail struct {
	SIPProxy   string // outbound proxy for deposit calls; "" = the URI's host
	MaxSeconds int    // longest message a mailbox takes; longer recordings go as parts
}

// Store says which database holds the directory, meetings and the
// recordings' delivery queue.
type Store struct {
	// URL is "" for the SQLite file brygga.db in Data, sqlite:PATH for
	// another SQLite file, or a postgres:// or postgresql:// URL.
	URL string
}

// Cluster makes this bridge one node of several that share one PostgreSQL
// (store.url): a live room is mixed on one node, and the others send its
// callers there.
type Cluster struct {
	// NodeID names this node among them; "" is no cluster, one bridge.
	NodeID string
	// Advertise is the SIP address (HOST:PORT) other nodes and the proxy
	// reach this node at; it is the Contact of the 302 that sends a
	// caller here. Required with NodeID.
	Advertise string
	// Heartbeat is how often the node renews its registration and its
	// rooms' leases; a lease lasts three heartbeats.
	Heartbeat time.Duration
	// APIAdvertise is the base URL (http://HOST:PORT or https://…) at
	// which the other nodes reach this node's admin API, to gather its
	// conferences and send it actions on its rooms. Default: api.listen's
	// address, https when api.tls is set; parse fills it in.
	APIAdvertise string
}

// Mixer holds mixing settings shared by all rooms.
type Mixer struct {
	MaxTalkers int // K loudest talkers mixed per tick
}

// RoomSettings are the per-room settings of the defaults block, which a
// directory entry may override key by key.
type RoomSettings struct {
	Language         string // en, nb or sv
	MaxMinutes       int    // meeting length limit
	WarnMinutes      []int  // warnings before the limit, largest first, each below MaxMinutes
	EarlyJoinMinutes int    // scheduled meetings open this long before start
	Names            bool   // record and announce names
	NamesMaxRoom     int    // above this many participants, a tone instead of names
	Lobby            bool
	WaitForHost      bool
	EndWithHost      bool // the meeting ends when its last host leaves
	Record           bool // record automatically; always false in sensitive rooms
}

func (s RoomSettings) clone() RoomSettings {
	s.WarnMinutes = slices.Clone(s.WarnMinutes)
	return s
}

// Room is one room: a directory entry, or an open room made up by Room.
type Room struct {
	Extension string
	Name      string // owner's name, for the greeting
	Email     string // owner's address, for recordings and invite replies
	// Delegates may send the owner's invites (Outlook's "on behalf of"):
	// bare addresses, compared without regard to case.
	Delegates []string
	Voicemail string // sip:…, mailto:… or spool:/path; where recordings go
	PIN       string // participant PIN; "" = none
	HostPIN   string // host PIN; "" = none
	// Sensitive rooms require a PIN and secure transport and are never
	// recorded.
	Sensitive bool
	Settings  RoomSettings
}

// String keeps the PINs out of logs that print a Room with %v.
func (r Room) String() string {
	if r.Name == "" {
		return r.Extension
	}
	return r.Extension + " (" + r.Name + ")"
}

// Error is a bad setting. Key names it as the user wrote it: a file key
// path such as "media.symmetric" or "directory[2].host_pin", a flag such as
// "--rtp-ports", an environment variable such as "BRYGGA_SIP", the config
// file's path for an unreadable or malformed file, or "flags" for a command
// line the flag package refused. brygga exits 2 on it.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return "config: " + e.Key + ": " + e.Msg }

// DefaultOpenRooms makes every extension of 3 to 6 digits a room, so a
// bridge without a config file can be called at once.
const DefaultOpenRooms = `^[0-9]{3,6}$`

// Default returns the settings used where nothing else says otherwise
// (docs/config.md): everything on loopback, open rooms on.
func Default() *Config {
	return &Config{
		Data:     "./brygga-data",
		LogLevel: "info",
		SIP: SIP{
			Listen: []Listen{
				{Transport: "udp", Addr: "127.0.0.1:5060"},
				{Transport: "tcp", Addr: "127.0.0.1:5060"},
			},
			Trusted: []netip.Prefix{
				netip.MustParsePrefix("127.0.0.0/8"),
				netip.MustParsePrefix("::1/128"),
			},
			Allow: []netip.Prefix{
				netip.MustParsePrefix("0.0.0.0/0"),
				netip.MustParsePrefix("::/0"),
			},
			MaxCalls:          500,
			UserAgent:         "brygga",
			MaxCallsPerSource: 20,
			RateLimit: RateLimit{
				InvitesPerSecond:  5,
				InviteBurst:       10,
				RequestsPerSecond: 50,
				RequestBurst:      100,
				DropFor:           time.Minute,
			},
			PINLockout: PINLockout{
				Failures:     10,
				RoomFailures: 30,
				Window:       10 * time.Minute,
				Lock:         15 * time.Minute,
			},
			Connections: Connections{
				MessageTimeout: 10 * time.Second,
				IdleTimeout:    2 * time.Minute,
				Max:            1000,
				MaxPerSource:   32,
			},
		},
		Media: Media{
			IP:         netip.MustParseAddr("127.0.0.1"),
			PortLo:     20000,
			PortHi:     29999,
			Symmetric:  "auto",
			RTPTimeout: 30 * time.Second,
		},
		API:         API{Listen: "127.0.0.1:8080", MaxConnectionsPerSource: 32},
		Mail:        Mail{MaxConnectionsPerSource: 32},
		Cluster:     Cluster{Heartbeat: 2 * time.Second},
		Recordings:  Recordings{KeepDays: 30, MaxEmailMB: 10},
		Voicemail:   Voicemail{MaxSeconds: 300},
		MeetingPINs: "meeting",
		Mixer:       Mixer{MaxTalkers: 4},
		Defaults: RoomSettings{
			Language:         "en",
			MaxMinutes:       60,
			WarnMinutes:      []int{5, 1},
			EarlyJoinMinutes: 10,
			Names:            true,
			NamesMaxRoom:     10,
		},
		OpenRooms:   DefaultOpenRooms,
		OpenRoomsRE: regexp.MustCompile(anchor(DefaultOpenRooms)),
	}
}

// anchor makes a pattern match whole extensions only; without it
// "[0-9]{3,6}" would also open every longer number that contains 3 digits.
func anchor(src string) string { return `^(?:` + src + `)$` }

// Room returns the room an extension dials: its directory entry, else an
// open room with the default settings and no PIN when OpenRoomsRE matches.
// Extensions that are not 1 to 15 digits are never rooms. The result is a
// copy; changing it does not change the Config.
func (c *Config) Room(extension string) (Room, bool) {
	for _, r := range c.Directory {
		if r.Extension == extension {
			r.Settings = r.Settings.clone()
			return r, true
		}
	}
	if c.OpenRoomsRE != nil && checkExtension(extension) == nil && c.OpenRoomsRE.MatchString(extension) {
		return Room{Extension: extension, Settings: c.Defaults.clone()}, true
	}
	return Room{}, false
}

// SlogLevel is LogLevel for log/slog.
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Validate applies the directory rules of the config file to one room, with
// keys as in a directory entry ("pin", "warn_minutes[1]"). It is for rooms
// that arrive other ways than the file, such as the admin API.
func (r Room) Validate() error {
	check := func(key string, err error) error {
		if err != nil {
			return &Error{Key: key, Msg: err.Error()}
		}
		return nil
	}
	optional := func(f func(string) error) func(string) error {
		return func(s string) error {
			if s == "" {
				return nil
			}
			return f(s)
		}
	}
	s := r.Settings
	for _, e := range []error{
		check("extension", checkExtension(r.Extension)),
		check("name", checkDisplayName(r.Name)),
		check("email", optional(checkBareAddress)(r.Email)),
		checkDelegates(r.Email, r.Delegates),
		check("voicemail", optional(checkVoicemail)(r.Voicemail)),
		check("pin", checkPIN(r.PIN)),
		check("host_pin", checkPIN(r.HostPIN)),
		check("language", checkLanguage(s.Language)),
		check("max_minutes", checkInt(s.MaxMinutes, 1, 1440)),
		check("early_join_minutes", checkInt(s.EarlyJoinMinutes, 0, 1440)),
		check("names_max_room", checkInt(s.NamesMaxRoom, 1, 100000)),
	} {
		if e != nil {
			return e
		}
	}
	for i, w := range s.WarnMinutes {
		key := "warn_minutes[" + strconv.Itoa(i) + "]"
		switch {
		case w <= 0:
			return &Error{Key: key, Msg: strconv.Itoa(w) + ": a warning must come at least 1 minute before the end"}
		case w >= s.MaxMinutes:
			return &Error{Key: key, Msg: strconv.Itoa(w) + " is not below max_minutes " + strconv.Itoa(s.MaxMinutes)}
		case slices.Contains(s.WarnMinutes[:i], w):
			return &Error{Key: key, Msg: strconv.Itoa(w) + " is listed twice"}
		}
	}
	switch {
	case r.PIN != "" && r.PIN == r.HostPIN:
		return &Error{Key: "host_pin", Msg: "equals pin; a host could not be told from a participant"}
	case r.Sensitive && r.PIN == "":
		return &Error{Key: "pin", Msg: "missing; a sensitive room must have a PIN"}
	case r.Sensitive && s.Record:
		return &Error{Key: "record", Msg: "a sensitive room is never recorded"}
	}
	return nil
}
