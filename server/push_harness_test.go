package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/push"
	"github.com/ordercast/ordercast/internal/push/pushtest"
)

// pushEnv is an instance that pushes to a test push service; its socket
// counts (conns) tell who is present.
type pushEnv struct {
	*rtEnv
	push  *pushtest.Service
	keys  push.Keys
	conns *limits.Conns
}

// newPushEnv starts an instance on store with Web Push on a push service
// of its own (on loopback http: AllowInsecure, unless edit changes it).
func newPushEnv(t *testing.T, store app.Store, edit ...func(*push.Config)) *pushEnv {
	t.Helper()
	keys, err := push.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	e := &pushEnv{push: pushtest.New(t, keys.PublicKey()), keys: keys, conns: limits.NewConns(limits.ConnsConfig{})}
	e.rtEnv = newRealtimeEnvOn(t, store, func(cfg *app.Config) {
		pc := &push.Config{Keys: keys, AllowInsecure: true, Backoff: 20 * time.Millisecond}
		for _, ed := range edit {
			ed(pc)
		}
		cfg.Push, cfg.Conns = pc, e.conns
	})
	return e
}

// subscribe registers the push service's subscription name for p.
func (e *pushEnv) subscribe(p party, name string) {
	e.t.Helper()
	e.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", p.Token, e.push.Subscribe(name))
}

// waitStats waits until the push counters of the instance satisfy cond.
func waitStats(t *testing.T, what string, s *push.Service, cond func(push.Stats) bool) push.Stats {
	t.Helper()
	waitFor(t, what, func() bool { return cond(s.Stats()) })
	return s.Stats()
}

// waitAbsent waits until conns count no socket of user on any instance.
func waitAbsent(t *testing.T, conns *limits.Conns, user delivery.ID) {
	t.Helper()
	waitFor(t, "user "+user.String()+" absent", func() bool {
		present, err := conns.Present(context.Background(), []delivery.ID{user})
		return err == nil && !present[user]
	})
}

// bySubscription groups messages by the subscription they went to.
func bySubscription(msgs []pushtest.Message) map[string][]pushtest.Message {
	out := map[string][]pushtest.Message{}
	for _, m := range msgs {
		out[m.Subscription] = append(out[m.Subscription], m)
	}
	return out
}

// fakeResolver answers names from a table, and nothing else: no test
// resolves a real name.
type fakeResolver struct {
	names map[string][]netip.Addr
}

func newFakeResolver(names map[string][]string) *fakeResolver {
	r := &fakeResolver{names: map[string][]netip.Addr{}}
	for name, addrs := range names {
		for _, a := range addrs {
			r.names[name] = append(r.names[name], netip.MustParseAddr(a))
		}
	}
	return r
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r.names[host]; ok {
		return addrs, nil
	}
	return nil, errors.New("no such host")
}
