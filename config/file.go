package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The file is decoded by walking yaml.Node trees rather than by
// yaml.Unmarshal into tagged structs: the walk knows the full key path and
// line of every value, which is what an operator needs to find a mistake,
// and it tells an absent key (keep the default) from an explicit empty one
// (open_rooms: "" turns open rooms off).

// loadFile applies a YAML document on top of c. name is the file's path,
// used as the key of errors that concern the whole file.
func (c *Config) loadFile(data []byte, name string) error {
	// Open rooms are the no-config convenience; a config file
	// that does not ask for them (open_rooms: PATTERN) has none, so a
	// production directory never leaves other extensions open by accident.
	c.OpenRooms, c.OpenRoomsRE = "", nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: all defaults
		}
		return &Error{Key: name, Msg: err.Error()}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return &Error{Key: name, Msg: err.Error()}
		}
		return &Error{Key: name, Msg: fmt.Sprintf("holds more than one YAML document (line %d); brygga reads one", next.Line)}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &Error{Key: name, Msg: fmt.Sprintf("the top level must be a mapping of keys such as sip:, media:, directory: (line %d)", root.Line)}
	}
	return c.decodeTop(root)
}

// field is one key of a mapping and how to decode its value.
type field struct {
	name   string
	decode func(n *yaml.Node, path string) error
}

// decodeMap checks every key of a mapping against fields, then decodes the
// values in the order of fields (not of the file), so that a later field
// may rely on an earlier one: directory entries start from defaults.
func decodeMap(n *yaml.Node, path string, fields []field) error {
	orig := n
	n = deref(n)
	if isNull(n) {
		return nil // "sip:" with nothing under it
	}
	here := path
	if here == "" {
		here = "(top level)"
	}
	if n.Kind != yaml.MappingNode {
		return nodeErr(here, orig, "want a mapping of keys, got %s", kindName(n))
	}
	vals := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nodeErr(here, k, "keys must be plain names, got %s", kindName(k))
		}
		kp := join(path, k.Value)
		if k.Value == "<<" {
			return nodeErr(kp, k, "YAML merge keys are not supported; directory entries take defaults: on their own")
		}
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == k.Value }) {
			msg := "unknown key"
			if s := suggest(k.Value, fields); s != "" {
				msg += "; did you mean " + join(path, s) + "?"
			}
			return nodeErr(kp, k, "%s", msg)
		}
		if _, dup := vals[k.Value]; dup {
			return nodeErr(kp, k, "set twice in the same mapping")
		}
		vals[k.Value] = v
	}
	for _, f := range fields {
		if v, ok := vals[f.name]; ok {
			if err := f.decode(v, join(path, f.name)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Config) decodeTop(root *yaml.Node) error {
	return decodeMap(root, "", []field{
		{"data", textField(&c.Data, checkDataDir)},
		{"log_level", func(n *yaml.Node, p string) error {
			s, err := text(n, p)
			if err != nil {
				return err
			}
			if c.LogLevel, err = parseLogLevel(s); err != nil {
				return nodeErr(p, n, "%v", err)
			}
			return nil
		}},
		{"store", func(n *yaml.Node, p string) error {
			return decodeMap(n, p, []field{
				{"url", textField(&c.Store.URL, checkStoreURL)},
			})
		}},
		{"cluster", func(n *yaml.Node, p string) error {
			return decodeMap(n, p, []field{
				{"node_id", textField(&c.Cluster.NodeID, CheckNodeID)},
				{"advertise", textField(&c.Cluster.Advertise, checkAdvertise)},
				{"heartbeat", durationField(&c.Cluster.Heartbeat, 100*time.Millisecond, time.Minute)},
				{"api_advertise", textField(&c.Cluster.APIAdvertise, checkAPIAdvertise)},
			})
		}},
		{"sip", c.decodeSIP},
		{"media", c.decodeMedia},
		{"api", c.decodeAPI},
		{"mail", c.decodeMail},
		{"recordings", func(n *yaml.Node, p string) error {
			return decodeMap(n, p, []field{
				{"keep_days", intField(&c.Recordings.KeepDays, 1, 36500)},
				{"max_email_mb", intField(&c.Recordings.MaxEmailMB, 0, 1024)},
				{"link_url", textField(&c.Recordings.LinkURL, checkLinkURL)},
			})
		}},
		{"voicemail", func(n *yaml.Node, p string) error {
			return decodeMap(n, p, []field{
				{"sip_proxy", textField(&c.Voicemail.SIPProxy, func(s string) error {
					if s == "" {
						return nil
					}
					return checkSIPURI(s)
				})},
				{"max_seconds", intField(&c.Voicemail.MaxSeconds, 30, 7200)},
			})
		}},
		{"mixer", func(n *yaml.Node, p string) error {
			return decodeMap(n, p, []field{
				{"max_talkers", intField(&c.Mixer.MaxTalkers, 1, 32)},
			})
		}},
		{"defaults", func(n *yaml.Node, p string) error {
			fields := settingsFields(&c.Defaults)
			keys := recordKeys(fields)
			if err := decodeMap(n, p, fields); err != nil {
				return err
			}
			return checkSettings(c.Defaults, p, keys, n)
		}},
		{"shutdown_grace", durationField(&c.ShutdownGrace, 0, 24*time.Hour)},
		{"meeting_pins", textField(&c.MeetingPINs, func(s string) error { return checkOneOf(s, "meeting", "room") })},
		{"prompts_dir", textField(&c.PromptsDir, func(s string) error {
			if err := checkPromptsDir(s); err != nil || s == "" {
				return err
			}
			// Checked here so a typo exits 2 naming the key instead of
			// failing later when the prompts are loaded.
			fi, err := os.Stat(s)
			if err != nil {
				return errorf("%q: %v", s, errors.Unwrap(err))
			}
			if !fi.IsDir() {
				return errorf("%q is not a folder", s)
			}
			return nil
		})},
		{"open_rooms", func(n *yaml.Node, p string) error {
			s, err := text(n, p)
			if err != nil {
				return err
			}
			re, err := compileOpenRooms(s)
			if err != nil {
				return nodeErr(p, n, "%v", err)
			}
			c.OpenRooms, c.OpenRoomsRE = s, re
			return nil
		}},
		{"directory", c.decodeDirectory},
	})
}

// compileOpenRooms compiles the pattern alone first: only a pattern that is
// valid by itself can be wrapped in anchors without changing its meaning.
func compileOpenRooms(src string) (*regexp.Regexp, error) {
	if src == "" {
		return nil, nil
	}
	if err := checkText(src, false); err != nil {
		return nil, err
	}
	if _, err := regexp.Compile(src); err != nil {
		return nil, err
	}
	return regexp.Compile(anchor(src))
}

func (c *Config) decodeSIP(n *yaml.Node, path string) error {
	return decodeMap(n, path, []field{
		{"listen", func(n *yaml.Node, p string) error {
			var out []Listen
			err := list(n, p, func(item *yaml.Node, ip string) error {
				s, err := text(item, ip)
				if err != nil {
					return err
				}
				ls, err := parseListen(s)
				if err != nil {
					return nodeErr(ip, item, "%v", err)
				}
				for _, l := range ls {
					if err := addListen(out, l); err != nil {
						return nodeErr(ip, item, "%v", err)
					}
					out = append(out, l)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(out) == 0 {
				return nodeErr(p, n, "no listeners; the bridge could not be called")
			}
			c.SIP.Listen = out
			return nil
		}},
		{"trusted", prefixField(&c.SIP.Trusted, true)},
		{"allow", prefixField(&c.SIP.Allow, false)},
		{"max_calls", intField(&c.SIP.MaxCalls, 1, 1000000)},
		{"user_agent", textField(&c.SIP.UserAgent, func(s string) error { return checkText(s, true) })},
		{"max_calls_per_source", intField(&c.SIP.MaxCallsPerSource, 0, 1000000)},
		{"message_timeout", durationField(&c.SIP.Connections.MessageTimeout, time.Second, 5*time.Minute)},
		{"idle_timeout", durationField(&c.SIP.Connections.IdleTimeout, time.Second, 24*time.Hour)},
		{"max_connections", intField(&c.SIP.Connections.Max, 0, 1000000)},
		{"max_connections_per_source", intField(&c.SIP.Connections.MaxPerSource, 0, 1000000)},
		{"tls", tlsField(&c.SIP.TLS)},
		{"auth", authField(&c.SIP.Auth)},
		{"rate_limit", func(n *yaml.Node, p string) error {
			r := &c.SIP.RateLimit
			return decodeMap(n, p, []field{
				{"invites_per_second", intField(&r.InvitesPerSecond, 0, 1000000)},
				{"invite_burst", intField(&r.InviteBurst, 1, 1000000)},
				{"requests_per_second", intField(&r.RequestsPerSecond, 0, 1000000)},
				{"request_burst", intField(&r.RequestBurst, 1, 1000000)},
				{"drop_for", durationField(&r.DropFor, time.Second, 24*time.Hour)},
			})
		}},
		{"pin_lockout", func(n *yaml.Node, p string) error {
			l := &c.SIP.PINLockout
			err := decodeMap(n, p, []field{
				{"failures", intField(&l.Failures, 1, 1000)},
				{"room_failures", intField(&l.RoomFailures, 1, 100000)},
				{"window", durationField(&l.Window, time.Second, 7*24*time.Hour)},
				{"lock", durationField(&l.Lock, time.Second, 7*24*time.Hour)},
			})
			if err == nil && l.RoomFailures < l.Failures {
				// A room lock shuts everyone out; it must never come
				// before the guesser's own.
				return nodeErr(join(p, "room_failures"), n, "%d is below failures (%d); a room would be locked before the guesser is", l.RoomFailures, l.Failures)
			}
			return err
		}},
	})
}

// durationField reads a Go duration such as "90s", "10m" or "1h30m",
// between lo and hi.
func durationField(dst *time.Duration, lo, hi time.Duration) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		s, err := text(n, p)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nodeErr(p, n, "%q is not a duration such as 90s, 10m or 1h", s)
		}
		if d < lo || d > hi {
			return nodeErr(p, n, "%s is outside %s..%s", s, formatDuration(lo), formatDuration(hi))
		}
		*dst = d
		return nil
	}
}

// formatDuration writes d as durationField reads it, without the zero
// units time.Duration.String adds ("10m", not "10m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// prefixField decodes a list of CIDRs. An empty trusted list is meaningful
// (trust nobody); an empty allow list would refuse every call, which is
// never what was meant.
func prefixField(dst *[]netip.Prefix, emptyOK bool) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		out, err := uniqueList(n, p, parsePrefix)
		if err != nil {
			return err
		}
		if len(out) == 0 && !emptyOK {
			return nodeErr(p, n, "empty: no caller could get in; use [\"0.0.0.0/0\", \"::/0\"] for everyone")
		}
		*dst = emptyNil(out)
		return nil
	}
}

func (c *Config) decodeMedia(n *yaml.Node, path string) error {
	return decodeMap(n, path, []field{
		{"ip", func(n *yaml.Node, p string) error {
			s, err := text(n, p)
			if err != nil {
				return err
			}
			if c.Media.IP, err = parseMediaIP(s); err != nil {
				return nodeErr(p, n, "%v", err)
			}
			return nil
		}},
		{"ports", func(n *yaml.Node, p string) error {
			s, err := text(n, p)
			if err != nil {
				return err
			}
			if c.Media.PortLo, c.Media.PortHi, err = parsePorts(s); err != nil {
				return nodeErr(p, n, "%v", err)
			}
			return nil
		}},
		{"symmetric", textField(&c.Media.Symmetric, checkSymmetric)},
		{"rtp_timeout", durationField(&c.Media.RTPTimeout, 0, 24*time.Hour)},
		{"hold_timeout", durationField(&c.Media.HoldTimeout, 0, 7*24*time.Hour)},
	})
}

func (c *Config) decodeAPI(n *yaml.Node, path string) error {
	return decodeMap(n, path, []field{
		{"listen", textField(&c.API.Listen, func(s string) error { return checkHostPort(s, false) })},
		{"metrics", textField(&c.API.Metrics, func(s string) error {
			if s == "" || s == "off" {
				return nil
			}
			return checkHostPort(s, false)
		})},
		{"tls", tlsField(&c.API.TLS)},
		{"hosts", hostsField(&c.API.Hosts)},
		{"max_connections_per_source", intField(&c.API.MaxConnectionsPerSource, 0, 1000000)},
		{"tokens", func(n *yaml.Node, p string) error {
			tokens := []Token{}
			err := list(n, p, func(item *yaml.Node, ip string) error {
				var t Token
				err := decodeMap(item, ip, []field{
					{"name", textField(&t.Name, func(s string) error { return checkText(s, true) })},
					{"token", textField(&t.Token, checkToken)},
					{"role", textField(&t.Role, checkRole)},
				})
				if err != nil {
					return err
				}
				for _, k := range []struct{ key, val string }{{"name", t.Name}, {"token", t.Token}, {"role", t.Role}} {
					if k.val == "" {
						return nodeErr(join(ip, k.key), item, "missing")
					}
				}
				for j, o := range tokens {
					if o.Name == t.Name {
						return nodeErr(join(ip, "name"), item, "%q is already the name of %s[%d]", t.Name, p, j)
					}
					if o.Token == t.Token {
						return nodeErr(join(ip, "token"), item, "the same token as %s[%d]", p, j)
					}
				}
				tokens = append(tokens, t)
				return nil
			})
			if err != nil {
				return err
			}
			c.API.Tokens = emptyNil(tokens)
			return nil
		}},
	})
}

// hostsField reads a list of host names or IP addresses (no ports),
// normalized to lower case without a trailing dot.
func hostsField(dst *[]string) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		out, err := uniqueList(n, p, checkHostName)
		if err != nil {
			return err
		}
		*dst = emptyNil(out)
		return nil
	}
}

// uniqueList reads a list of texts, each parsed by parse; an item equal to
// an earlier one once parsed is an error naming it.
func uniqueList[T comparable](n *yaml.Node, p string, parse func(string) (T, error)) ([]T, error) {
	out := []T{}
	err := list(n, p, func(item *yaml.Node, ip string) error {
		s, err := text(item, ip)
		if err != nil {
			return err
		}
		v, err := parse(s)
		if err != nil {
			return nodeErr(ip, item, "%v", err)
		}
		if slices.Contains(out, v) {
			return nodeErr(ip, item, "%v is listed twice", v)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (c *Config) decodeMail(n *yaml.Node, path string) error {
	err := decodeMap(n, path, []field{
		{"smtp", textField(&c.Mail.SMTP, checkSMTP)},
		{"from", textField(&c.Mail.From, func(s string) error {
			if s == "" {
				return nil
			}
			return checkFrom(s)
		})},
		{"listen", textField(&c.Mail.Listen, checkMailListen)},
		{"address", textField(&c.Mail.Address, func(s string) error {
			if s == "" {
				return nil
			}
			return checkBareAddress(s)
		})},
		{"authserv_id", textField(&c.Mail.AuthservID, checkAuthservID)},
		{"max_connections_per_source", intField(&c.Mail.MaxConnectionsPerSource, 0, 1000000)},
	})
	if err != nil {
		return err
	}
	if c.Mail.AuthservID != "" && c.Mail.Listen == "" {
		return nodeErr(join(path, "authserv_id"), n, "only used by incoming invites; set mail.listen too")
	}
	// Each half of mail works alone, but each half needs its partner key.
	if c.Mail.SMTP != "" && c.Mail.From == "" {
		return nodeErr(join(path, "from"), n, "required when mail.smtp is set")
	}
	if c.Mail.Listen != "" && c.Mail.Address == "" {
		return nodeErr(join(path, "address"), n, "required when mail.listen is set: invites must be addressed to it")
	}
	return nil
}

// settingsFields are the keys of defaults, which directory entries share.
func settingsFields(s *RoomSettings) []field {
	return []field{
		{"language", textField(&s.Language, checkLanguage)},
		{"max_minutes", intField(&s.MaxMinutes, 1, 1440)},
		{"warn_minutes", func(n *yaml.Node, p string) error {
			out := []int{}
			err := list(n, p, func(item *yaml.Node, ip string) error {
				v, err := integer(item, ip)
				if err != nil {
					return err
				}
				if v <= 0 {
					return nodeErr(ip, item, "%d: a warning must come at least 1 minute before the end", v)
				}
				if slices.Contains(out, v) {
					return nodeErr(ip, item, "%d is listed twice", v)
				}
				out = append(out, v)
				return nil
			})
			if err != nil {
				return err
			}
			// Kept largest first: the order in which they are said.
			slices.Sort(out)
			slices.Reverse(out)
			s.WarnMinutes = emptyNil(out)
			return nil
		}},
		{"early_join_minutes", intField(&s.EarlyJoinMinutes, 0, 1440)},
		{"names", boolField(&s.Names)},
		{"names_max_room", intField(&s.NamesMaxRoom, 1, 100000)},
		{"lobby", boolField(&s.Lobby)},
		{"wait_for_host", boolField(&s.WaitForHost)},
		{"end_with_host", boolField(&s.EndWithHost)},
		{"record", boolField(&s.Record)},
	}
}

// recordKeys wraps fields so that the returned map learns which keys a
// mapping wrote: for the line of errors that involve two keys, and to tell a
// room's own settings from inherited ones.
func recordKeys(fields []field) map[string]*yaml.Node {
	keys := map[string]*yaml.Node{}
	for i := range fields {
		f := fields[i]
		fields[i].decode = func(n *yaml.Node, p string) error {
			keys[f.name] = n
			return f.decode(n, p)
		}
	}
	return keys
}

// checkSettings checks what single keys cannot: each warning must come
// before the end. When the warnings were inherited (from defaults) and only
// max_minutes was written here, the error names max_minutes, the key the
// operator has to look at.
func checkSettings(s RoomSettings, path string, set map[string]*yaml.Node, entry *yaml.Node) error {
	for _, w := range s.WarnMinutes {
		if w < s.MaxMinutes {
			continue
		}
		if wn, own := set["warn_minutes"]; own {
			i, item := warnItem(wn, w)
			return nodeErr(fmt.Sprintf("%s[%d]", join(path, "warn_minutes"), i), item, "%d is not below max_minutes %d", w, s.MaxMinutes)
		}
		n := set["max_minutes"]
		if n == nil {
			n = entry
		}
		return nodeErr(join(path, "max_minutes"), n, "%d leaves no room for the inherited %d-minute warning; set warn_minutes here too", s.MaxMinutes, w)
	}
	return nil
}

// warnItem finds the list item holding w: the key path names the position
// in the file, not in the sorted list.
func warnItem(list *yaml.Node, w int) (int, *yaml.Node) {
	l := deref(list)
	for i, it := range l.Content {
		if v, err := strconv.Atoi(strings.TrimSpace(deref(it).Value)); err == nil && v == w {
			return i, it
		}
	}
	return 0, list
}

func (c *Config) decodeDirectory(n *yaml.Node, path string) error {
	rooms := []Room{}
	err := list(n, path, func(item *yaml.Node, ip string) error {
		r := Room{Settings: c.Defaults.clone()}
		fields := []field{
			{"extension", textField(&r.Extension, checkExtension)},
			{"name", textField(&r.Name, checkDisplayName)},
			{"email", textField(&r.Email, func(s string) error {
				if s == "" {
					return nil
				}
				return checkBareAddress(s)
			})},
			{"voicemail", textField(&r.Voicemail, func(s string) error {
				if s == "" {
					return nil
				}
				return checkVoicemail(s)
			})},
			{"pin", textField(&r.PIN, checkPIN)},
			{"host_pin", textField(&r.HostPIN, checkPIN)},
			{"sensitive", boolField(&r.Sensitive)},
			{"delegates", func(n *yaml.Node, p string) error {
				out := []string{}
				err := list(n, p, func(item *yaml.Node, ip string) error {
					s, err := text(item, ip)
					if err != nil {
						return err
					}
					if err := checkDelegate(s, out); err != nil {
						return nodeErr(ip, item, "%v", err)
					}
					out = append(out, s)
					return nil
				})
				r.Delegates = emptyNil(out)
				return err
			}},
		}
		fields = append(fields, settingsFields(&r.Settings)...)
		keys := recordKeys(fields)
		if err := decodeMap(item, ip, fields); err != nil {
			return err
		}
		if r.Extension == "" {
			return nodeErr(join(ip, "extension"), item, "missing; every directory entry is a room and needs its extension")
		}
		for j, o := range rooms {
			if o.Extension == r.Extension {
				return nodeErr(join(ip, "extension"), keys["extension"], "%s is already %s[%d]", r.Extension, path, j)
			}
		}
		if len(r.Delegates) > 0 && r.Email == "" {
			return nodeErr(join(ip, "delegates"), keys["delegates"], "a delegate acts for the room's owner; set email too")
		}
		if r.PIN != "" && r.PIN == r.HostPIN {
			return nodeErr(join(ip, "host_pin"), keys["host_pin"], "equals pin; a host could not be told from a participant")
		}
		if r.Sensitive {
			if r.PIN == "" {
				return nodeErr(join(ip, "pin"), item, "missing; a sensitive room must have a PIN")
			}
			if _, own := keys["record"]; own && r.Settings.Record {
				return nodeErr(join(ip, "record"), keys["record"], "a sensitive room is never recorded")
			}
			// record: true inherited from defaults yields to sensitivity.
			r.Settings.Record = false
		}
		if err := checkSettings(r.Settings, ip, keys, item); err != nil {
			return err
		}
		rooms = append(rooms, r)
		return nil
	})
	if err != nil {
		return err
	}
	c.Directory = emptyNil(rooms)
	return nil
}

// emptyNil makes an empty list nil, so that a config read from a file and
// one built in code compare equal however the list was written.
func emptyNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Node helpers.

// deref follows YAML aliases (*name) to the anchored node. Anchored nodes
// cannot themselves be aliases, but the loop is bounded anyway.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func join(path, key string) string {
	if !isPlainKey(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// isPlainKey keeps odd keys (spaces, newlines, dots) from making a key path
// that reads as something else.
func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '<') {
			return false
		}
	}
	return true
}

func nodeErr(path string, n *yaml.Node, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if n != nil && n.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", n.Line)
	}
	return &Error{Key: path, Msg: msg}
}

// text reads a scalar as written: "0123" stays "0123", so PINs and
// extensions need no quotes. Null is "".
func text(n *yaml.Node, path string) (string, error) {
	d := deref(n)
	if isNull(d) {
		return "", nil
	}
	if d.Kind != yaml.ScalarNode {
		return "", nodeErr(path, n, "want a single value, got %s", kindName(d))
	}
	return d.Value, nil
}

func integer(n *yaml.Node, path string) (int, error) {
	d := deref(n)
	if isNull(d) {
		return 0, nodeErr(path, n, "needs a whole number")
	}
	if d.Kind != yaml.ScalarNode {
		return 0, nodeErr(path, n, "want a whole number, got %s", kindName(d))
	}
	v, err := strconv.Atoi(strings.TrimSpace(d.Value))
	if err != nil || (d.ShortTag() != "!!int" && d.ShortTag() != "!!str") {
		return 0, nodeErr(path, n, "%q is not a whole number", d.Value)
	}
	return v, nil
}

func list(n *yaml.Node, path string, each func(item *yaml.Node, path string) error) error {
	d := deref(n)
	if isNull(d) {
		return nil
	}
	if d.Kind != yaml.SequenceNode {
		return nodeErr(path, n, "want a list, got %s", kindName(d))
	}
	for i, item := range d.Content {
		if err := each(item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func textField(dst *string, check func(string) error) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		s, err := text(n, p)
		if err != nil {
			return err
		}
		if err := check(s); err != nil {
			return nodeErr(p, n, "%v", err)
		}
		*dst = s
		return nil
	}
}

func intField(dst *int, lo, hi int) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		v, err := integer(n, p)
		if err != nil {
			return err
		}
		if err := checkInt(v, lo, hi); err != nil {
			return nodeErr(p, n, "%v", err)
		}
		*dst = v
		return nil
	}
}

// boolField takes true or false only: yes/no/on/off are YAML 1.1 and read
// differently by different tools.
func boolField(dst *bool) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		d := deref(n)
		if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!bool" {
			v := "nothing"
			if d != nil && d.Kind != 0 {
				v = kindName(d)
			}
			return nodeErr(p, n, "want true or false, got %s", v)
		}
		*dst = strings.EqualFold(d.Value, "true")
		return nil
	}
}

// suggest returns the known key closest to a misspelt one, if it is close.
func suggest(key string, fields []field) string {
	best, bestD := "", 3
	for _, f := range fields {
		if d := editDistance(strings.ToLower(key), f.name); d < bestD {
			best, bestD = f.name, d
		}
	}
	if strings.ReplaceAll(strings.ToLower(key), "-", "_") != key {
		for _, f := range fields {
			if strings.ReplaceAll(strings.ToLower(key), "-", "_") == f.name {
				return f.name
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
