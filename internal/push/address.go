package push

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// The server must not be a way to reach hosts that only it can: a push
// endpoint is an https URL on a public address, checked when it is
// registered and again, after name resolution, by the dialer of every
// send, so that a name that later resolves elsewhere (DNS rebinding)
// reaches nothing internal either.

// MaxEndpointLen bounds an endpoint URL; the push services' are a few
// hundred characters.
const MaxEndpointLen = 2048

// resolveTimeout bounds a name resolution, at registration and at a send.
const resolveTimeout = 3 * time.Second

// errRefusedAddress is a send refused by the dialer: the endpoint's host
// resolved to an address that is not public.
var errRefusedAddress = errors.New("push: endpoint address is not public")

// Resolver resolves host names; *net.Resolver is one, tests give theirs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// special are the ranges of IANA's special-purpose registries that
// netip's predicates leave as global unicast, and that are no push
// service: shared (CGNAT), documentation and benchmarking space, IPv4
// reserved for future use, and the IPv6 prefixes that embed or translate
// to IPv4 addresses (NAT64, 6to4, Teredo), which could lead to private
// ones.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// isPublic reports whether a is a public unicast address: not loopback,
// private, link-local, multicast, unspecified or special-purpose.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// addressPolicy says which addresses a connection may go to.
type addressPolicy struct {
	loopbackOnly  bool // http endpoints (PUSH_ALLOW_INSECURE): loopback and nothing else
	allowLoopback bool // https endpoints with PUSH_ALLOW_INSECURE: loopback besides public
}

func (p addressPolicy) allows(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return p.loopbackOnly || p.allowLoopback
	}
	return !p.loopbackOnly && isPublic(a)
}

// policyOf returns the policy of an endpoint's scheme: https on public
// addresses (and loopback with allowInsecure); http only with
// allowInsecure, and only on loopback.
func policyOf(scheme string, allowInsecure bool) (addressPolicy, bool) {
	switch {
	case scheme == "https":
		return addressPolicy{allowLoopback: allowInsecure}, true
	case scheme == "http" && allowInsecure:
		return addressPolicy{loopbackOnly: true}, true
	}
	return addressPolicy{}, false
}

// resolve returns the addresses of host (an IP literal is its own).
func resolve(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return r.LookupNetIP(ctx, "ip", host)
}

// checkAddresses resolves host and refuses it unless policy allows every
// address it has: one internal address is enough to be refused.
func checkAddresses(ctx context.Context, r Resolver, policy addressPolicy, host string) ([]netip.Addr, error) {
	addrs, err := resolve(ctx, r, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no address")
	}
	for _, a := range addrs {
		if !policy.allows(a) {
			return nil, errRefusedAddress
		}
	}
	return addrs, nil
}

// endpointProblem is why an endpoint is refused, in words for the client.
type endpointProblem string

// checkEndpointURL parses an endpoint and checks its form; it returns the
// URL and the address policy of its scheme.
func checkEndpointURL(raw string, allowInsecure bool) (*url.URL, addressPolicy, endpointProblem) {
	if raw == "" {
		return nil, addressPolicy{}, "required"
	}
	if len(raw) > MaxEndpointLen {
		return nil, addressPolicy{}, endpointProblem("at most " + strconv.Itoa(MaxEndpointLen) + " characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return nil, addressPolicy{}, "must be an absolute https URL"
	}
	policy, ok := policyOf(u.Scheme, allowInsecure)
	if !ok {
		return nil, addressPolicy{}, "must be an https URL"
	}
	if u.User != nil {
		return nil, addressPolicy{}, "must carry no user name or password"
	}
	if u.Hostname() == "" {
		return nil, addressPolicy{}, "must name a host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, addressPolicy{}, "has an invalid port"
		}
	}
	return u, policy, ""
}

// dialer connects only to addresses its policy allows, resolving the
// host itself and dialing the checked address, so that what was checked
// is what is reached.
type dialer struct {
	resolver Resolver
	policy   addressPolicy
	net      net.Dialer
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, err
	}
	addrs, err := checkAddresses(ctx, d.resolver, d.policy, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.net.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
