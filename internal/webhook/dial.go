package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by the error of a connection refused because the
// resolved address is in blocked space and no allow-list prefix names it.
// It wraps [ErrNotAllowed].
var ErrBlocked = fmt.Errorf("%w: address is blocked", ErrNotAllowed)

// Timeouts of clients from NewClient.
const (
	// DefaultTimeout bounds a whole request when NewClient gets none.
	DefaultTimeout = 30 * time.Second

	dialTimeout = 10 * time.Second
	keepAlive   = 30 * time.Second
)

// blockedRange is address space that a callback reaches only through an
// allow-list prefix inside it: the host itself, private networks, cloud
// metadata services (169.254.169.254, fd00:ec2::254, 100.100.100.200) and
// space that is not unicast or that embeds IPv4 addresses.
type blockedRange struct {
	prefix netip.Prefix
	why    string
}

var blockedRanges = []blockedRange{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// blockedReason returns why addr is blocked, or "" when it is not.
func blockedReason(addr netip.Addr) string {
	addr = addr.Unmap().WithZone("")
	for _, b := range blockedRanges {
		if b.prefix.Contains(addr) {
			return b.why
		}
	}
	return ""
}

func isBlocked(addr netip.Addr) bool {
	return blockedReason(addr) != ""
}

// insideBlocked reports whether every address of p is blocked.
func insideBlocked(p netip.Prefix) bool {
	for _, b := range blockedRanges {
		if b.prefix.Bits() <= p.Bits() && b.prefix.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix into the IPv4 prefix it
// stands for, so that it matches the unmapped addresses it is compared to.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}

// DialContext connects to addr ("host:port", as an http.Transport passes
// it) if the allow-list permits it. The host must pass the same test as in
// [AllowList.Check]. Then, at connect time, each address the host resolved
// to is checked: an address in blocked space (loopback, private,
// link-local, metadata and similar ranges) is refused with [ErrBlocked]
// unless an allow-list prefix inside that space covers it and the port.
// Checking the connected address, not an earlier lookup, defeats DNS
// rebinding. Only TCP networks are allowed.
func (a *AllowList) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("%w: network %q", ErrNotAllowed, network)
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotAllowed, err)
	}
	port, err := parsePort(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotAllowed, err)
	}
	if err := a.allowHost(host, port); err != nil {
		return nil, err
	}
	var resolver *net.Resolver
	if a != nil {
		resolver = a.resolver
	}
	d := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: keepAlive,
		Resolver:  resolver,
		Control: func(_, address string, _ syscall.RawConn) error {
			return a.checkConnect(host, address)
		},
	}
	return d.DialContext(ctx, network, addr)
}

// checkConnect checks the resolved address a socket is about to connect
// to for host.
func (a *AllowList) checkConnect(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: connect address %q: %w", ErrBlocked, address, err)
	}
	ip := ap.Addr().Unmap().WithZone("")
	why := blockedReason(ip)
	if why == "" || a.allowAddr(ip, int(ap.Port())) {
		return nil
	}
	return fmt.Errorf("%w: %s (%s) for host %q", ErrBlocked, ip, why, host)
}

// NewClient returns an HTTP client for callbacks. It connects only through
// a.DialContext, uses no proxy (the environment's proxy settings are
// ignored), does not follow redirects (the 3xx response is returned as
// is), and gives up on a request after timeout, or DefaultTimeout when
// timeout is not positive. A nil a allows no connection.
func NewClient(a *AllowList, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            a.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    dialTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
