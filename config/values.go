package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The checks below return messages without the key; the caller knows the
// key (file path, flag or variable) and wraps them into an *Error. They are
// shared by the file, the flags and Room.Validate so a value means the same
// wherever it is written.

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// parseListen reads one SIP listener: "udp:host:port", "tcp:host:port",
// "tls:host:port" or a bare "host:port" for UDP and TCP.
func parseListen(s string) ([]Listen, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty listener; want udp:host:port, tcp:host:port, tls:host:port or host:port")
	}
	lower := strings.ToLower(s)
	for _, t := range []string{"udp", "tcp", "tls"} {
		if rest, ok := strings.CutPrefix(lower, t+":"); ok {
			if err := checkHostPort(s[len(s)-len(rest):], false); err != nil {
				return nil, err
			}
			return []Listen{{Transport: t, Addr: s[len(s)-len(rest):]}}, nil
		}
	}
	if err := checkHostPort(s, false); err != nil {
		// "tls:host:port" fails as a host:port; say what is really wrong.
		if scheme, rest, ok := strings.Cut(s, ":"); ok && isWord(scheme) && checkHostPort(rest, false) == nil {
			return nil, errorf("transport %q is not udp, tcp or tls", scheme)
		}
		return nil, err
	}
	return []Listen{{Transport: "udp", Addr: s}, {Transport: "tcp", Addr: s}}, nil
}

// parseListenList reads --sip and BRYGGA_SIP: listeners separated by commas.
func parseListenList(s string) ([]Listen, error) {
	var out []Listen
	for item := range strings.SplitSeq(s, ",") {
		ls, err := parseListen(item)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if err := addListen(out, l); err != nil {
				return nil, err
			}
			out = append(out, l)
		}
	}
	return out, nil
}

func addListen(have []Listen, l Listen) error {
	for _, h := range have {
		if h == l {
			return errorf("%s:%s is listed twice", l.Transport, l.Addr)
		}
	}
	return nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// checkHostPort accepts host:port where host is empty, an IP address or a
// DNS name and port is 0..65535 (0 lets the system choose, for tests).
// needHost rejects an empty host.
func checkHostPort(s string, needHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errorf("%q is not host:port (IPv6 in brackets: [::1]:5060)", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 || port != strconv.Itoa(p) {
		return errorf("port %q in %q is not a number from 0 to 65535", port, s)
	}
	if host == "" {
		if needHost {
			return errorf("%q has no host", s)
		}
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return errorf("address %q has a zone; use an address without %%zone", host)
		}
		return nil
	}
	if !isHostname(host) {
		return errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

// checkHostName accepts a host name or an IP address as a Host header
// names it, without a port, and returns it in the form compared: lower
// case, no trailing dot, an IPv6 address without brackets.
func checkHostName(s string) (string, error) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		if a.Zone() != "" {
			return "", errorf("address %q has a zone; use an address without %%zone", s)
		}
		return a.Unmap().String(), nil
	}
	if !isHostname(s) {
		return "", errorf("%q is neither a host name nor an IP address (no port, no scheme, no wildcard)", s)
	}
	return strings.ToLower(strings.TrimSuffix(s, ".")), nil
}

func isHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// parsePorts reads "LO-HI". RTP takes even ports and RTCP the odd port
// above, so the range must start even and end odd for every RTP port to
// have its RTCP port inside the range a firewall was opened for.
func parsePorts(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, errorf("%q is not LO-HI, e.g. 20000-29999", s)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, errorf("%q is not LO-HI, e.g. 20000-29999", s)
	case lo < 1024 || hi > 65535:
		return 0, 0, errorf("%d-%d is outside 1024-65535", lo, hi)
	case lo >= hi:
		return 0, 0, errorf("%d-%d: the first port must be below the last", lo, hi)
	case lo%2 != 0 || (hi-lo+1)%2 != 0:
		return 0, 0, errorf("%d-%d: want an even first port and an odd last port (an even number of ports), so each RTP port has its RTCP port; e.g. 20000-29999", lo, hi)
	}
	return lo, hi, nil
}

// parseMediaIP reads the address that goes into SDP, so it must be one a
// peer can send to.
func parseMediaIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, errorf("%q is not an IP address", s)
	}
	a = a.Unmap()
	switch {
	case a.Zone() != "":
		return netip.Addr{}, errorf("%q has a zone, which SDP cannot carry", s)
	case a.IsUnspecified():
		return netip.Addr{}, errorf("%s is not an address a caller can send RTP to; give this machine's address", a)
	case a.IsMulticast():
		return netip.Addr{}, errorf("%s is a multicast address", a)
	}
	return a, nil
}

// parsePrefix reads a CIDR, or a bare address meaning that one host.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errorf("%q is not a CIDR such as 10.0.0.0/8", s)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, errorf("%q: write IPv4 networks as IPv4", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var logLevels = []string{"debug", "info", "warn", "error"}

func parseLogLevel(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, v := range logLevels {
		if l == v {
			return l, nil
		}
	}
	return "", errorf("%q is not one of debug, info, warn, error", s)
}

func checkOneOf(s string, allowed ...string) error {
	for _, v := range allowed {
		if s == v {
			return nil
		}
	}
	return errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
}

func checkLanguage(s string) error    { return checkOneOf(s, "en", "nb", "sv") }
func checkSymmetric(s string) error   { return checkOneOf(s, "auto", "always", "never") }
func checkRole(s string) error        { return checkOneOf(s, "operator", "viewer") }
func checkDataDir(s string) error     { return checkText(s, true) }
func checkPromptsDir(s string) error  { return checkText(s, false) }
func checkDisplayName(s string) error { return checkText(s, false) }

// checkText refuses control characters: names and paths end up in SIP
// headers, mail headers and log lines, where a newline is an injection.
func checkText(s string, required bool) error {
	if s == "" {
		if required {
			return errors.New("must not be empty")
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errorf("contains the control character %q", r)
		}
	}
	return nil
}

func checkDigits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func checkExtension(s string) error {
	if !checkDigits(s, 1, 15) {
		return errorf("%q is not 1 to 15 digits", s)
	}
	return nil
}

// checkPIN is for optional PINs: "" means none.
func checkPIN(s string) error {
	if s != "" && !checkDigits(s, 3, 12) {
		return errors.New("is not 3 to 12 digits") // the value is secret: not echoed
	}
	return nil
}

func checkInt(v, lo, hi int) error {
	if v < lo || v > hi {
		return errorf("%d is outside %d..%d", v, lo, hi)
	}
	return nil
}

// checkBareAddress accepts name@domain and nothing around it.
func checkBareAddress(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return errorf("%q is not a mail address such as name@example.org", s)
	}
	return nil
}

// checkDelegates applies the rules of a directory entry's delegates: each
// a bare address, none twice, and an owner's address for them to act for.
// The error names the key, "delegates" or "delegates[i]".
func checkDelegates(owner string, delegates []string) error {
	for i, d := range delegates {
		if err := checkDelegate(d, delegates[:i]); err != nil {
			return &Error{Key: "delegates[" + strconv.Itoa(i) + "]", Msg: err.Error()}
		}
	}
	if len(delegates) > 0 && owner == "" {
		return &Error{Key: "delegates", Msg: "a delegate acts for the room's owner, and the room has no email"}
	}
	return nil
}

// checkDelegate checks one delegate against the ones listed before it.
func checkDelegate(d string, before []string) error {
	if err := checkBareAddress(d); err != nil {
		return err
	}
	for _, b := range before {
		if strings.EqualFold(b, d) {
			return errorf("%s is listed twice", d)
		}
	}
	return nil
}

// checkAuthservID accepts what an authserv-id is in practice (RFC 8601
// section 2.5): a token such as the mail server's host name.
func checkAuthservID(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 255 {
		return errorf("is longer than 255 characters")
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?=", c) >= 0 {
			return errorf("%q is not an authserv-id such as mx.example.org (the first word of the mail server's Authentication-Results header)", s)
		}
	}
	return nil
}

// checkFrom accepts what a From header holds: an address with an optional
// display name.
func checkFrom(s string) error {
	if _, err := mail.ParseAddress(s); err != nil {
		return errorf("%q is not a mail address such as \"Konferanse <brygga@example.org>\"", s)
	}
	return checkText(s, false)
}

func checkSMTP(s string) error {
	if s == "" {
		return nil // no outgoing mail
	}
	if err := checkText(s, false); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		// url's message quotes the input, which holds the password.
		return errors.New("is not a URL such as smtp://user:pass@mail.example.org:587")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return errorf("scheme %q is not smtp or smtps", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errorf("port %q is not 1..65535", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be only scheme://[user:pass@]host[:port]")
	}
	return nil
}

// checkMailListen accepts host:port (SMTP), lmtp:host:port, lmtp:/path or
// /path (LMTP on a unix socket).
func checkMailListen(s string) error {
	if s == "" {
		return nil // no incoming invites
	}
	if err := checkText(s, false); err != nil {
		return err
	}
	rest, _ := strings.CutPrefix(s, "lmtp:")
	if strings.HasPrefix(rest, "/") {
		return nil
	}
	return checkHostPort(rest, false)
}

// checkURIChars refuses what would break out of a SIP header or a URI.
func checkURIChars(s string) error {
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' || !unicode.IsPrint(r) {
			return errorf("%q contains %q, which cannot appear in a URI", s, r)
		}
	}
	return nil
}

func checkSIPURI(s string) error {
	if err := checkURIChars(s); err != nil {
		return err
	}
	rest, ok := strings.CutPrefix(s, "sip:")
	if !ok || rest == "" || strings.HasPrefix(rest, "@") || strings.HasSuffix(rest, "@") {
		return errorf("%q is not a SIP URI such as sip:pbx.example.org", s)
	}
	return nil
}

// checkLinkURL accepts an http(s) base URL for links in mail, or "".
func checkLinkURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http:// or https:// URL such as https://brygga.example.org, got %q", s)
	}
	return nil
}

// checkVoicemail accepts the three places a recording can be delivered.
func checkVoicemail(s string) error {
	switch {
	case strings.HasPrefix(s, "sip:"):
		return checkSIPURI(s)
	case strings.HasPrefix(s, "mailto:"):
		if err := checkBareAddress(strings.TrimPrefix(s, "mailto:")); err != nil {
			return errorf("%q: %v", s, err)
		}
		return nil
	case strings.HasPrefix(s, "spool:"):
		p := strings.TrimPrefix(s, "spool:")
		if err := checkText(p, true); err != nil {
			return errorf("spool path %v", err)
		}
		if !strings.HasPrefix(p, "/") {
			return errorf("%q: the spool path must be absolute", s)
		}
		// The API may later write rooms too; a ".." would let it aim
		// deliveries outside the voicemail spool.
		if path.Clean(p) != p {
			return errorf("%q: the spool path must be clean (no .., no //, no trailing /)", s)
		}
		return nil
	}
	return errorf("%q is not sip:…, mailto:… or spool:/path", s)
}

// checkToken accepts a plain bearer token or sha256:<64 hex digits>.
func checkToken(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if h, ok := strings.CutPrefix(s, tokenHashPrefix); ok {
		if len(h) != 64 || strings.Trim(h, "0123456789abcdefABCDEF") != "" {
			return errors.New("a sha256: token needs exactly 64 hex digits after the prefix")
		}
		return nil
	}
	for _, r := range s {
		// A token with a space or control character can never arrive in an
		// Authorization header intact.
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return errors.New("contains spaces or control characters, so no client could send it")
		}
	}
	return nil
}

// RedactURL hides the password of a URL, keeping the rest for debugging.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if s == "" {
			return ""
		}
		return "***"
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	// url escapes "*" in a password, so mark it with Redacted's "xxxxx" and
	// swap that; the username is escaped and cannot hold ':' itself.
	return strings.Replace(u.Redacted(), ":xxxxx@", ":***@", 1)
}

// StoreLocation says where store.url points: a SQLite file (path) or a
// PostgreSQL server (postgres, the URL as given); the caller puts "" in
// the data folder. Only the form is checked here: the server is asked
// when the store is opened.
func StoreLocation(s string) (path, postgres string, err error) {
	if err := checkText(s, false); err != nil {
		return "", "", err
	}
	switch {
	case s == "":
		return "", "", nil
	case strings.HasPrefix(s, "sqlite:"):
		if path = strings.TrimPrefix(s, "sqlite:"); path == "" {
			return "", "", errors.New("sqlite: needs the database file's path, as in sqlite:/var/lib/brygga/brygga.db")
		}
		return path, "", nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return "", "", errorf("%q is not a URL: %v", RedactURL(s), errors.Unwrap(err))
		}
		return "", s, nil
	}
	return "", "", errorf("want \"\" (brygga.db in the data folder), sqlite:PATH or a postgres:// URL, got %q", RedactURL(s))
}

func checkStoreURL(s string) error {
	_, _, err := StoreLocation(s)
	return err
}

// CheckNodeID accepts "" (no cluster) or a name of up to 64 letters,
// digits, '.', '-' and '_': it shows in logs, metrics and the database.
func CheckNodeID(s string) error {
	if len(s) > 64 {
		return errorf("%d characters; at most 64", len(s))
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return errorf("%q: only letters, digits, '.', '-' and '_'", s)
		}
	}
	return nil
}

// checkAdvertise accepts "" or the HOST:PORT a 302 sends callers to: a
// host others can reach, so not 0.0.0.0 or ::, and a real port.
func checkAdvertise(s string) error {
	if s == "" {
		return nil
	}
	if err := checkHostPort(s, true); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(s)
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		return errorf("%q is no address another node can reach; name this node's own", s)
	}
	if port == "0" {
		return errorf("%q has port 0; name the port sip.listen binds", s)
	}
	return nil
}

// checkCluster checks what the cluster keys need of each other and of
// the store, once every source has been applied.
func (c *Config) checkCluster() error {
	if c.Cluster.NodeID == "" {
		return nil
	}
	if c.Cluster.Advertise == "" {
		return &Error{Key: "cluster.advertise", Msg: "missing: a node of a cluster must say at which SIP address (HOST:PORT) the others reach it"}
	}
	if _, pg, _ := StoreLocation(c.Store.URL); pg == "" {
		return &Error{Key: "cluster.node_id", Msg: "a cluster's nodes share their room leases in PostgreSQL: store.url (or BRYGGA_STORE) must be a postgres:// URL"}
	}
	if c.Cluster.APIAdvertise == "" {
		host, _, err := net.SplitHostPort(c.API.Listen)
		a, aerr := netip.ParseAddr(host)
		if err != nil || host == "" || aerr == nil && a.IsUnspecified() {
			return &Error{Key: "cluster.api_advertise", Msg: fmt.Sprintf("missing: api.listen %q names no address the other nodes can reach; set the URL they reach this node's API at", c.API.Listen)}
		}
		// Port 0 (tests): the port is known once the listener is bound,
		// and serve fills the rest in then (APIURL).
	}
	return nil
}

// APIURL is the base URL the other nodes of a cluster reach this node's
// API at: cluster.api_advertise, or by default the address the API
// listener is bound to (bound, HOST:PORT), https when api.tls is set.
func (c *Config) APIURL(bound string) string {
	if c.Cluster.APIAdvertise != "" {
		return strings.TrimSuffix(c.Cluster.APIAdvertise, "/")
	}
	if c.API.TLS.Certificate != nil {
		return "https://" + bound
	}
	return "http://" + bound
}

// checkAPIAdvertise accepts "" (api.listen's address) or an http or
// https URL with a host and a port and nothing after them: the other
// nodes add the API's paths.
func checkAPIAdvertise(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" ||
		u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return errorf("%q: want http://HOST:PORT or https://HOST:PORT", s)
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.IsUnspecified() {
		return errorf("%q is no address another node can reach; name this node's own", s)
	}
	return nil
}
