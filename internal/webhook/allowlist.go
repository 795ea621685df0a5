// Package webhook delivers signed job notifications to callback URLs that
// an operator has allowed.
//
// An [AllowList] says which callback URLs a client may register; a client
// from [NewClient] re-checks the address it actually connects to, so a
// name that resolves to an internal address is refused at connect time.
// [Signer] and [Verify] produce and check the Asr-Signature header, and
// [Sender] posts an event with retries.
package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrNotAllowed is wrapped by every error that refuses a callback URL or a
// connection because the allow-list does not cover it.
var ErrNotAllowed = errors.New("webhook: callback not allowed")

// entry is one allow-list line. Exactly one of name, suffix and prefix is
// set. A zero port matches any port.
type entry struct {
	raw    string
	name   string       // exact host name, lower case
	suffix string       // wildcard "*.example.com" stored as ".example.com"
	prefix netip.Prefix // IP address or CIDR prefix
	port   int
	// internal is true when prefix lies wholly inside blocked address
	// space; only such entries unlock blocked addresses.
	internal bool
}

// AllowList is a parsed list of callback destinations. The zero value and
// a nil *AllowList allow nothing. It is safe for concurrent use once built.
type AllowList struct {
	entries []entry
	// resolver, when set, replaces the default resolver when dialing.
	resolver *net.Resolver
}

// ParseAllowList parses allow-list entries. Each entry is one of
//
//	hooks.example.com          a host name, matched exactly
//	*.example.com              any name below example.com, not example.com
//	203.0.113.7, 2001:db8::1   an IP address
//	10.1.0.0/16, fd00::/8      a CIDR prefix
//
// optionally followed by ":port" ("hooks.example.com:8443",
// "10.1.0.0/16:8443"); IPv6 addresses and prefixes take a port only in
// brackets ("[fd00::/8]:8443"). Names are compared case-insensitively and
// must be ASCII (punycode for internationalised names).
//
// A prefix that lies wholly inside blocked space (loopback, private,
// link-local, metadata and similar ranges) is what lets a callback reach
// such an address; a broader prefix such as 0.0.0.0/0 does not.
//
// An empty list is valid and allows no callback at all. The error names
// the first entry that does not parse.
func ParseAllowList(entries []string) (*AllowList, error) {
	a := &AllowList{entries: make([]entry, 0, len(entries))}
	for _, raw := range entries {
		e, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("webhook: allow-list entry %q: %w", raw, err)
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

func parseEntry(raw string) (entry, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return entry{}, errors.New("empty entry")
	}
	host, port, err := splitEntry(s)
	if err != nil {
		return entry{}, err
	}
	e := entry{raw: s, port: port}
	switch {
	case strings.Contains(host, "/"):
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return entry{}, fmt.Errorf("bad CIDR prefix: %w", err)
		}
		if p.Addr().Zone() != "" {
			return entry{}, errors.New("IPv6 zones are not supported")
		}
		e.prefix = unmapPrefix(p.Masked())
	case isIPLiteral(host):
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return entry{}, fmt.Errorf("bad IP address: %w", err)
		}
		if addr.Zone() != "" {
			return entry{}, errors.New("IPv6 zones are not supported")
		}
		addr = addr.Unmap()
		e.prefix = netip.PrefixFrom(addr, addr.BitLen())
	case strings.HasPrefix(host, "*."):
		name, err := normalizeName(host[2:])
		if err != nil {
			return entry{}, err
		}
		e.suffix = "." + name
	default:
		name, err := normalizeName(host)
		if err != nil {
			return entry{}, err
		}
		e.name = name
	}
	if e.prefix.IsValid() {
		e.internal = insideBlocked(e.prefix)
	}
	return e, nil
}

// splitEntry separates an optional port from an entry. A bare IPv6
// address or prefix has more than one colon and no port.
func splitEntry(s string) (host string, port int, err error) {
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") != 1 {
		return s, 0, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("bad host and port: %w", err)
	}
	port, err = parsePort(p)
	if err != nil {
		return "", 0, err
	}
	if strings.HasPrefix(s, "[") && !strings.Contains(h, ":") {
		return "", 0, errors.New("brackets are only for IPv6")
	}
	return h, port, nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' {
		return 0, fmt.Errorf("bad port %q", p)
	}
	return n, nil
}

// isIPLiteral reports whether host must be read as an IP address rather
// than a name: it contains a colon, or its last label is a number (decimal,
// or hexadecimal with 0x), which URL parsers treat as an IPv4 address.
func isIPLiteral(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	host = strings.TrimSuffix(host, ".")
	last := strings.ToLower(host[strings.LastIndexByte(host, '.')+1:])
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// normalizeName lower-cases a host name, drops one trailing dot and checks
// that it is made of letter-digit-hyphen labels.
func normalizeName(s string) (string, error) {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return "", fmt.Errorf("bad host name %q", s)
	}
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return "", fmt.Errorf("bad host name %q", s)
		}
	}
	return s, nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// Check reports whether rawURL may be used as a callback. The URL must be
// absolute http or https, carry no user information, and its host, as
// written, must match an entry: names against name and wildcard entries,
// IP literals against address and prefix entries. An entry with a port
// matches only that port, the scheme's default port counting when the URL
// names none. An IP literal in blocked space (see [ParseAllowList]) also
// needs an entry that names that space.
//
// Check does not resolve names; a client from [NewClient] checks the
// resolved address when it connects. Every error wraps [ErrNotAllowed].
func (a *AllowList) Check(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotAllowed, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: scheme %q is not http or https", ErrNotAllowed, u.Scheme)
	case u.Opaque != "" || u.Host == "":
		return fmt.Errorf("%w: url has no host", ErrNotAllowed)
	case u.User != nil:
		return fmt.Errorf("%w: url must not carry user information", ErrNotAllowed)
	}
	port := defaultPort(u.Scheme)
	if p := u.Port(); p != "" {
		if port, err = parsePort(p); err != nil {
			return fmt.Errorf("%w: %w", ErrNotAllowed, err)
		}
	}
	return a.allowHost(u.Hostname(), port)
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

// allowHost checks a host, as written in a URL, and a port.
func (a *AllowList) allowHost(host string, port int) error {
	if a == nil || len(a.entries) == 0 {
		return fmt.Errorf("%w: allow-list is empty", ErrNotAllowed)
	}
	if host == "" {
		return fmt.Errorf("%w: url has no host", ErrNotAllowed)
	}
	if isIPLiteral(host) {
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return fmt.Errorf("%w: bad IP address %q", ErrNotAllowed, host)
		}
		if !a.allowAddr(addr, port) {
			return fmt.Errorf("%w: address %s port %d is not in the allow-list",
				ErrNotAllowed, addr, port)
		}
		return nil
	}
	name, err := normalizeName(host)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotAllowed, err)
	}
	for _, e := range a.entries {
		if e.portMatches(port) && e.matchesName(name) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %q port %d is not in the allow-list", ErrNotAllowed, name, port)
}

// allowAddr reports whether a prefix entry covers addr and port. A blocked
// address needs an entry that lies wholly inside blocked space.
func (a *AllowList) allowAddr(addr netip.Addr, port int) bool {
	if a == nil {
		return false
	}
	addr = addr.Unmap()
	needInternal := isBlocked(addr)
	for _, e := range a.entries {
		if !e.prefix.IsValid() || !e.portMatches(port) || !e.prefix.Contains(addr) {
			continue
		}
		if !needInternal || e.internal {
			return true
		}
	}
	return false
}

func (e entry) portMatches(port int) bool {
	return e.port == 0 || e.port == port
}

func (e entry) matchesName(name string) bool {
	switch {
	case e.name != "":
		return name == e.name
	case e.suffix != "":
		return strings.HasSuffix(name, e.suffix)
	}
	return false
}

// String returns the entries as parsed, separated by commas.
func (a *AllowList) String() string {
	if a == nil {
		return ""
	}
	raw := make([]string, len(a.entries))
	for i, e := range a.entries {
		raw[i] = e.raw
	}
	return strings.Join(raw, ",")
}
