package api

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// HostCheck refuses requests whose Host header names a host this server
// does not answer to, with 421 Misdirected Request. A page on a name its
// owner rebinds to the bridge's address (DNS rebinding) makes the browser
// connect here with its own name in Host; without this check the page
// could read /metrics and, with a token it tricked out of a user, the
// API, despite the same-origin policy.
//
// A request passes when Host, without its port, is
//   - empty (HTTP/1.0 without Host: no browser sends that);
//   - one of names (api.hosts, and the host of recordings.link_url);
//   - listen's own host, name or address;
//   - an IP address equal to the local address the request arrived at
//     (with listen ":8080", every address of the machine a client used);
//   - "localhost", when the request arrived at a loopback address.
//
// Names compare without case and without a trailing dot.
func HostCheck(listen string, names []string, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	add := func(h string) {
		h = canonicalHost(h)
		// 0.0.0.0 in a Host header is a browser's way to this machine
		// from any page, not a name anyone configured.
		if a, err := netip.ParseAddr(h); h == "" || (err == nil && a.IsUnspecified()) {
			return
		}
		allowed[h] = true
	}
	for _, n := range names {
		add(n)
	}
	if h, _, err := net.SplitHostPort(listen); err == nil {
		add(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r, allowed) {
			writeError(w, http.StatusMisdirectedRequest, "host "+strconv.Quote(r.Host)+
				" is not one this server answers to; use its address, or add the name to api.hosts")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(r *http.Request, allowed map[string]bool) bool {
	if r.Host == "" {
		return true
	}
	h := canonicalHost(r.Host)
	if allowed[h] {
		return true
	}
	local := localAddr(r)
	if a, err := netip.ParseAddr(h); err == nil {
		return local.IsValid() && a == local
	}
	return h == "localhost" && local.IsLoopback()
}

// canonicalHost is the host of a Host header value or a configured name
// as compared: no port, no brackets, lower case, no trailing dot, and an
// IPv4-mapped IPv6 address as IPv4.
func canonicalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// localAddr is the address of this machine the request's connection
// reached; invalid when the server does not say (not a TCP connection).
func localAddr(r *http.Request) netip.Addr {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(la.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}
