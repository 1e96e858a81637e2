package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
)

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"1.1.1.1": true, "8.8.4.4": true, "2606:4700::1111": true, "2a00:1450::1": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.0.0.1": false, "172.16.5.4": false, "172.31.255.255": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "fd12:3456::1": false,
		"224.0.0.1": false, "239.255.255.250": false, "ff02::1": false, "255.255.255.255": false,
		"100.64.0.1": false, "198.18.0.1": false, "192.0.2.1": false, "203.0.113.9": false, "240.0.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:1.1.1.1": true,
		"64:ff9b::a00:1": false, "2002:a00:1::1": false, "2001::1": false, "2001:db8::1": false,
	} {
		if got := isPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestAddressPolicy(t *testing.T) {
	loop, pub, priv := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		scheme   string
		insecure bool
		ok       bool
		allowed  []netip.Addr
	}{
		{"https", false, true, []netip.Addr{pub}},
		{"https", true, true, []netip.Addr{pub, loop}},
		{"http", false, false, nil},
		{"http", true, true, []netip.Addr{loop}},
		{"ftp", true, false, nil},
	}
	for _, tt := range tests {
		p, ok := policyOf(tt.scheme, tt.insecure)
		if ok != tt.ok {
			t.Errorf("%s insecure=%v: ok %v, want %v", tt.scheme, tt.insecure, ok, tt.ok)
			continue
		}
		for _, a := range []netip.Addr{loop, pub, priv} {
			want := false
			for _, w := range tt.allowed {
				want = want || w == a
			}
			if ok && p.allows(a) != want {
				t.Errorf("%s insecure=%v: allows(%s) = %v, want %v", tt.scheme, tt.insecure, a, !want, want)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"120", 2 * time.Minute, true},
		{" 3 ", 3 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true}, // a date past: now
		{"999999999", 24 * time.Hour, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		if got, ok := retryAfter(tt.header, now); got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMemoryClaimsClaimOnceUntilTheyExpire(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newMemoryClaims(func() time.Time { return now })
	m.max = 2
	ctx := context.Background()
	claim := func(order delivery.ID, seq int64) bool {
		ok, err := m.Claim(ctx, order, seq)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(1, 1) || claim(1, 1) || !claim(1, 2) {
		t.Fatal("want the first claim of each event only")
	}
	// Full: a new event is claimed without being kept.
	if !claim(2, 1) || !claim(2, 1) {
		t.Fatal("a full set of claims must not refuse a new event")
	}
	now = now.Add(claimTTL)
	if !claim(1, 1) || claim(1, 1) {
		t.Fatal("after the TTL an event is claimed anew, once")
	}
}

func TestRedisClaimsAreSharedAndExpire(t *testing.T) {
	rdb := redistest.Client(t, redistest.URL(t))
	prefix := redistest.Prefix(t)
	a, b := NewRedisClaims(rdb, prefix), NewRedisClaims(rdb, prefix)
	ctx := context.Background()
	if ok, err := a.Claim(ctx, 42, 7); !ok || err != nil {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if ok, err := b.Claim(ctx, 42, 7); ok || err != nil {
		t.Fatalf("second claim, by another instance: %v, %v", ok, err)
	}
	if ok, err := b.Claim(ctx, 42, 8); !ok || err != nil {
		t.Fatalf("claim of the next event: %v, %v", ok, err)
	}
	ttl, err := rdb.TTL(ctx, prefix+"push:42:7").Result()
	if err != nil || ttl <= 0 || ttl > claimTTL {
		t.Fatalf("claim TTL %v (%v), want at most %v", ttl, err, claimTTL)
	}
}

func TestKeysGeneratedOnceIntoTheDataFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LoadKeys("", dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadKeys("", dir)
	if err != nil || second.PublicKey() != first.PublicKey() {
		t.Fatalf("second load: %v, %v; want the same key", second.PublicKey(), err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, keyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file: %v, %v; want mode 0600", fi, err)
		}
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, keyFile))
	fromEnv, err := LoadKeys(string(onDisk), t.TempDir())
	if err != nil || fromEnv.PublicKey() != first.PublicKey() {
		t.Errorf("the file's contents as VAPID_PRIVATE_KEY: %v, %v; want the same key", fromEnv.PublicKey(), err)
	}
	if _, err := LoadKeys("not-a-key", t.TempDir()); err == nil || !strings.Contains(err.Error(), "VAPID_PRIVATE_KEY") {
		t.Errorf("a bad VAPID_PRIVATE_KEY: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, keyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys("", bad); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("a bad key file: %v, want an error naming it", err)
	}
}

func TestCheckEndpointURL(t *testing.T) {
	for raw, want := range map[string]endpointProblem{
		"https://push.example/abc":       "",
		"https://push.example:8443/abc":  "",
		"http://push.example/abc":        "must be an https URL",
		"wss://push.example/abc":         "must be an https URL",
		"mailto:ops@example.com":         "must be an absolute https URL",
		"//push.example/abc":             "must be an absolute https URL",
		"https:///abc":                   "must name a host",
		"https://u@push.example/abc":     "must carry no user name or password",
		"https://push.example:0/abc":     "has an invalid port",
		"https://push.example:65536/abc": "has an invalid port",
	} {
		if _, _, got := checkEndpointURL(raw, false); got != want {
			t.Errorf("checkEndpointURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// stubOrders is the order a chat message or an arrival is read with.
type stubOrders struct{ o delivery.Order }

func (s stubOrders) OrderByID(context.Context, delivery.ID) (delivery.Order, error) { return s.o, nil }

// The party that caused an event is left out of its audience; a cancel
// that either party may have made goes to both.
func TestNoticeAudiences(t *testing.T) {
	courier := delivery.ID(30)
	o := delivery.Order{ID: 42, CustomerID: 10, RestaurantID: 2, RestaurantName: "Pizza", CourierID: &courier}
	orders := stubOrders{o}
	event := func(typ string, v any) delivery.Event {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return delivery.Event{OrderID: o.ID, Seq: 5, Type: typ, Data: data}
	}
	with := func(status delivery.Status, reason string) delivery.Order {
		c := o
		c.Status, c.Reason = status, reason
		return c
	}
	long := strings.Repeat("é", 200)
	tests := []struct {
		name        string
		ev          delivery.Event
		users       []delivery.ID
		restaurant  delivery.ID
		title, body string
	}{
		{"ready, by the restaurant", event(delivery.EventOrderStatus, with(delivery.StatusReady, "")), []delivery.ID{10, 30}, 0,
			"Order 42 is ready", "Pizza"},
		{"picked up, by the courier", event(delivery.EventOrderStatus, with(delivery.StatusPickedUp, "")), []delivery.ID{10}, 2,
			"Order 42 was picked up", "Pizza"},
		{"cancelled without a reason: the customer", event(delivery.EventOrderStatus, with(delivery.StatusCancelled, "")), []delivery.ID{30}, 2,
			"Order 42 was cancelled", "Pizza"},
		{"cancelled with a reason: either", event(delivery.EventOrderStatus, with(delivery.StatusCancelled, "out of dough")), []delivery.ID{10, 30}, 2,
			"Order 42 was cancelled", "Pizza: out of dough"},
		{"chat by the courier", event(delivery.EventChatMessage, delivery.Message{OrderID: 42, AuthorID: 30, AuthorRole: delivery.RoleCourier, Text: long}),
			[]delivery.ID{10}, 2, "Message about order 42", "Courier: " + strings.Repeat("é", maxChatPreview-1) + "…"},
		{"chat by the restaurant", event(delivery.EventChatMessage, delivery.Message{OrderID: 42, AuthorID: 20, AuthorRole: delivery.RoleRestaurant, Text: "ready soon"}),
			[]delivery.ID{10, 30}, 0, "Message about order 42", "Restaurant: ready soon"},
		{"arrived at the drop-off", event(delivery.EventCourierArrived, delivery.Arrived{OrderID: 42, CourierID: 30, At: delivery.AtDropoff}),
			[]delivery.ID{10}, 2, "Order 42: the courier is at the drop-off", "Pizza"},
	}
	for _, tt := range tests {
		ns, err := notices(context.Background(), orders, tt.ev, nil)
		if err != nil || len(ns) != 1 {
			t.Fatalf("%s: %v, %v", tt.name, ns, err)
		}
		n := ns[0]
		if !slices.Equal(n.audience.Users, tt.users) || n.audience.Restaurant != tt.restaurant || n.audience.Couriers {
			t.Errorf("%s: audience %+v, want users %v and restaurant %d", tt.name, n.audience, tt.users, tt.restaurant)
		}
		if n.msg.Title != tt.title || n.msg.Body != tt.body || n.msg.OrderID != "42" || n.msg.URL != "/#/orders/42" || n.msg.Event != tt.ev.Type {
			t.Errorf("%s: message %+v, want %q / %q", tt.name, n.msg, tt.title, tt.body)
		}
		if n.urgent != (tt.ev.Type == delivery.EventOrderStatus) {
			t.Errorf("%s: urgent %v", tt.name, n.urgent)
		}
	}
	// Events of other types push nothing, unless they offer the order.
	for _, typ := range []string{delivery.EventOrderCreated, delivery.EventOrderAssigned, "test.tick"} {
		if ns, err := notices(context.Background(), orders, event(typ, o), nil); err != nil || len(ns) != 0 {
			t.Errorf("%s: %v, %v; want nothing", typ, ns, err)
		}
	}
}

// A post's error is logged without the endpoint, a capability.
func TestDescribeLeavesTheEndpointOut(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://push.example/send/SECRET-TOKEN", Err: errors.New("dial tcp: i/o timeout")}
	if got := describe(fmt.Errorf("push: %w", err)); strings.Contains(got, "SECRET") || !strings.Contains(got, "i/o timeout") {
		t.Errorf("describe = %q", got)
	}
}
