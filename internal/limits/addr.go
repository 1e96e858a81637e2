package limits

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseProxies parses TRUSTED_PROXIES: a comma list of CIDRs
// ("10.0.0.0/8") or single addresses.
func ParseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8 or addresses, got %q", s)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8 or addresses, got %q", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ClientAddr is the client address that limits count by: the
// connection's remote address, or, when that is a trusted proxy, the
// rightmost X-Forwarded-For entry that is not one (entries left of it are
// whatever the client chose to send). When every entry is a trusted
// proxy the leftmost is used; an entry that is no address ends the walk
// at the proxy that passed it on. IPv6 addresses count by their /64,
// what one subscriber usually holds.
func ClientAddr(remote netip.Addr, forwardedFor []string, trusted []netip.Prefix) string {
	addr := remote.Unmap()
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(forwardedFor, ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
