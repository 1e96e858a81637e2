package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/push"
	"github.com/ordercast/ordercast/internal/push/pushtest"
)

// pushCluster is a deployment whose instances push to one push service,
// with one VAPID key, presence counted in Redis and claims in Redis, as
// cmd/ordercast wires them.
type pushCluster struct {
	*cluster
	push  *pushtest.Service
	keys  push.Keys
	conns []*limits.Conns // by instance
}

func newPushCluster(t *testing.T, n int) *pushCluster {
	t.Helper()
	keys, err := push.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &pushCluster{cluster: newCluster(t, n), push: pushtest.New(t, keys.PublicKey()), keys: keys, conns: make([]*limits.Conns, n)}
}

func (c *pushCluster) start(i int, o instanceOpts) *instance {
	c.t.Helper()
	rdb := redistest.Client(c.t, c.url)
	c.conns[i] = limits.NewConns(limits.ConnsConfig{Presence: true, Shared: limits.NewShared(rdb, limits.SharedOptions{Prefix: c.prefix})})
	c.t.Cleanup(c.conns[i].Close) // after the instance's shutdown, before rdb closes
	edit := o.edit
	o.edit = func(cfg *app.Config) {
		cfg.Conns = c.conns[i]
		cfg.Push = &push.Config{Keys: c.keys, AllowInsecure: true, Claims: push.NewRedisClaims(rdb, c.prefix)}
		if edit != nil {
			edit(cfg)
		}
	}
	return c.cluster.start(i, o)
}

// A customer with a socket on instance A is not pushed the events that
// instance B commits; once the socket closed, B pushes.
func TestPushPresenceAcrossInstances(t *testing.T) {
	c := newPushCluster(t, 2)
	a, b := c.start(0, instanceOpts{}), c.start(1, instanceOpts{})
	w := a.newWorld()
	o := a.place(w)
	a.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", w.Customer.Token, c.push.Subscribe("customer"))
	ws := a.dial(w.Customer)

	b.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	st := waitStats(t, "B resolved the accept", b.App.Push, func(s push.Stats) bool { return s.Resolved == 1 })
	if st.OnlineNotSent != 1 || st.Queued != 0 {
		t.Fatalf("B with the customer's socket on A: %+v, want 1 skipped, none queued", st)
	}

	_ = ws.conn.Close(websocket.StatusNormalClosure, "bye")
	waitAbsent(t, c.conns[1], w.Customer.User.ID) // as B sees it: A wrote the zero to Redis
	b.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	msgs := c.push.WaitMessages(1, waitTimeout)
	if msgs[0].Payload.Event != "order.status" || msgs[0].Payload.Title != "Order "+o.ID.String()+" is being prepared" {
		t.Errorf("push after the socket closed: %+v", msgs[0].Payload)
	}
	waitStats(t, "B sent it", b.App.Push, func(s push.Stats) bool { return s.Sent == 1 })
	if st := a.App.Push.Stats(); st.Resolved != 0 {
		t.Errorf("A, which published none of the events, worked on %d of them", st.Resolved)
	}
}

// An event whose committer died before publishing it is pushed by the
// instance whose relay published it, once.
func TestPushOfARelayedEvent(t *testing.T) {
	c := newPushCluster(t, 2)
	a := c.start(0, instanceOpts{})
	dying := c.start(1, instanceOpts{dies: true})
	w := a.newWorld()
	o := a.place(w)
	a.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", w.Customer.Token, c.push.Subscribe("customer"))

	dying.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	msgs := c.push.WaitMessages(1, waitTimeout)
	if msgs[0].Payload.Title != "Order "+o.ID.String()+" was accepted" {
		t.Errorf("relayed push: %+v", msgs[0].Payload)
	}
	waitStats(t, "A sent it", a.App.Push, func(s push.Stats) bool { return s.Sent == 1 })
	if st := dying.App.Push.Stats(); st.Resolved != 0 {
		t.Errorf("the dying instance, which never published, worked on %d events", st.Resolved)
	}
}

// An event handed to Web Push twice (a relay publishing it again after
// its committer's mark was lost) is pushed once: the second copy finds it
// claimed, on this instance or another.
func TestPushOnceForAnEventPublishedTwice(t *testing.T) {
	c := newPushCluster(t, 2)
	a, b := c.start(0, instanceOpts{}), c.start(1, instanceOpts{})
	w := a.newWorld()
	o := a.place(w)
	a.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", w.Customer.Token, c.push.Subscribe("customer"))
	a.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	c.push.WaitMessages(1, waitTimeout)

	events, err := a.Store.EventsAfter(context.Background(), o.ID, 1, 1)
	if err != nil || len(events) != 1 {
		t.Fatalf("the accept's event: %v, %v", events, err)
	}
	for _, inst := range []*instance{a, b} {
		inst.App.Push.Published(events[0], nil)
		waitStats(t, "the copy found claimed", inst.App.Push, func(s push.Stats) bool { return s.Duplicates == 1 })
	}
	if n := len(c.push.Posts()); n != 1 {
		t.Errorf("%d pushes of one event, want 1", n)
	}
}
