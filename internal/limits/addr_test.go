package limits

import (
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseProxies("10.0.0.0/8, 192.0.2.10, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	proxy := netip.MustParseAddr("10.1.2.3")
	cases := []struct {
		name   string
		remote netip.Addr
		xff    []string
		want   string
	}{
		{"direct client", netip.MustParseAddr("203.0.113.5"), nil, "203.0.113.5"},
		{"direct client's own header is ignored", netip.MustParseAddr("203.0.113.5"), []string{"198.51.100.1"}, "203.0.113.5"},
		{"behind a proxy", proxy, []string{"203.0.113.5"}, "203.0.113.5"},
		{"the rightmost untrusted entry, not what the client prepended", proxy, []string{"1.1.1.1, 203.0.113.5"}, "203.0.113.5"},
		{"through two proxies", proxy, []string{"1.1.1.1, 203.0.113.5, 192.0.2.10"}, "203.0.113.5"},
		{"headers joined", proxy, []string{"1.1.1.1", "203.0.113.5, 10.9.9.9"}, "203.0.113.5"},
		{"every entry trusted: the leftmost", proxy, []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"garbage stops at the proxy that passed it", proxy, []string{"203.0.113.5, garbage"}, "10.1.2.3"},
		{"proxy without a header", proxy, nil, "10.1.2.3"},
		{"v4-mapped remote", netip.MustParseAddr("::ffff:203.0.113.5"), nil, "203.0.113.5"},
		{"IPv6 counts by /64", netip.MustParseAddr("2001:db8:1:2:aaaa::1"), nil, "2001:db8:1:2::/64"},
		{"IPv6 behind a v6 proxy", netip.MustParseAddr("fd00::1"), []string{"2001:db8:1:2::99"}, "2001:db8:1:2::/64"},
	}
	for _, c := range cases {
		if got := ClientAddr(c.remote, c.xff, trusted); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if got := ClientAddr(proxy, []string{"203.0.113.5"}, nil); got != "10.1.2.3" {
		t.Errorf("no trusted proxies: %s, want the remote address", got)
	}
}

func TestParseProxies(t *testing.T) {
	got, err := ParseProxies(" 10.0.0.0/8 ,,::ffff:192.0.2.0/120, 2001:db8::1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.0/24", "2001:db8::1/128"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", "10.0.0.1/x"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
