// Package app wires one ordercast instance from the adapters its caller
// picked (cmd/ordercast from the environment, tests their own): the order
// and account services, the publisher, the hub, the outbox and the HTTP
// server, in one straight line with no setters. Every test harness builds
// its instances here too, so tests run what production runs, outbox
// included.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/outbox"
	"github.com/ordercast/ordercast/internal/push"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/wire"
	"github.com/ordercast/ordercast/server"
)

// Store is what an instance keeps its state in: the domain's store with
// the outbox side of the event log; both engines are one.
type Store interface {
	delivery.Store
	outbox.Store
}

// Config is an instance: its adapters and settings.
type Config struct {
	Store     Store                  // required
	Bus       delivery.Bus           // required: in-process or Redis
	Locations delivery.LocationStore // required: in memory or Redis
	Tokens    *auth.Tokens           // required; checks Sessions' ended sessions
	// Sessions is the started list of ended sessions (required): they
	// travel on the bus and close their sockets on every instance.
	Sessions *sessions.List
	// Limits are the rate limits (nil: none); Conns the socket caps (nil:
	// none).
	Limits *limits.Limits
	Conns  *limits.Conns
	// HashGate bounds password hashing (nil: a default gate).
	HashGate *limits.Gate
	// MaxActivePerCourier: 0 takes the default.
	MaxActivePerCourier int
	// HubLimits bound each connection; zero fields take defaults.
	HubLimits hub.Limits
	// Outbox tunes the relay: Grace, Interval, BusUp (Store, Publisher,
	// Route and Published are set here).
	Outbox outbox.Config
	// Push sends Web Push notifications of the events the outbox
	// published (nil: none). Its Store and Presence are set here: the
	// store, and Conns, whose socket counts tell who is present (a count
	// of this instance alone when Conns is nil).
	Push *push.Config
	// Clock is the clock of the services, the hub's typing and the
	// throttle of positions (time.Now when nil): tests move it.
	Clock func() time.Time
	// Server is the HTTP server's configuration; its services, hub and
	// publisher are set here. Its Registry (a fresh one when nil) gets
	// the metrics of the hub, the outbox, the store and the limits too.
	Server server.Config
	// Ops is the operator's view: the instance's id and version, the
	// heartbeat's interval and expiry, the fleet's Heartbeats (nil: this
	// instance alone), the Redis ping (nil: no Redis) and the ring of
	// errors the caller's Log writes to (nil: one is made and hooked to
	// Log here). Its Store, Hub and Log are set here.
	Ops ops.Config
	Log zerolog.Logger
}

// App is one running instance.
type App struct {
	Orders    *orders.Service
	Accounts  *accounts.Service
	Publisher *hub.Publisher
	Hub       *hub.Hub
	Outbox    *outbox.Outbox
	Push      *push.Service // nil without Config.Push
	Server    *server.Server
	Ops       *ops.Monitor
	active    *orders.ActiveCache // announces on the bus until Close
}

// New builds and starts an instance; serve it with Server.Serve and stop
// it with Shutdown, then Close.
func New(cfg Config) (*App, error) {
	if cfg.Store == nil || cfg.Bus == nil || cfg.Locations == nil || cfg.Tokens == nil || cfg.Sessions == nil {
		return nil, errors.New("app: Store, Bus, Locations, Tokens and Sessions are required")
	}
	if cfg.Ops.Errors == nil {
		cfg.Ops.Errors = ops.NewErrorRing(ops.DefaultErrorRing)
		cfg.Log = cfg.Log.Hook(cfg.Ops.Errors)
	}
	sc := cfg.Server
	if sc.Registry == nil {
		sc.Registry = server.NewRegistry()
	}
	reg := sc.Registry
	store := newTimedStore(cfg.Store, reg)
	active := orders.NewActiveCache(cfg.Clock, cfg.Log)
	bus := active.Bus(cfg.Sessions.Bus(cfg.Bus))
	pub, err := hub.NewPublisher(hub.PublisherConfig{Bus: bus, Now: cfg.Clock, Log: cfg.Log})
	if err != nil {
		active.Close()
		return nil, err
	}
	conns := cfg.Conns
	var pusher *push.Service
	if cfg.Push != nil {
		if conns == nil {
			conns = limits.NewConns(limits.ConnsConfig{}) // no cap; counts for presence
		}
		pc := *cfg.Push
		pc.Store, pc.Presence, pc.Log = store, conns, cfg.Log
		var err error
		if pusher, err = push.New(pc); err != nil {
			pub.Close()
			active.Close()
			return nil, err
		}
	}
	oc := cfg.Outbox
	oc.Store, oc.Publisher, oc.Log = store, pub, cfg.Log
	if pusher != nil {
		oc.Published = pusher.Published
	}
	oc.Route = func(ctx context.Context, ev delivery.Event) ([]delivery.Publication, error) {
		return orders.RouteStored(ctx, store, ev)
	}
	ob := outbox.New(oc)
	svc := orders.New(orders.Config{
		Store: store, Outbox: ob, Publisher: pub, Locations: cfg.Locations, Active: active, Limits: cfg.Limits,
		MaxActivePerCourier: cfg.MaxActivePerCourier, Sessions: cfg.Sessions, Now: cfg.Clock, Log: cfg.Log,
	})
	h, err := hub.New(hub.Config{
		Events: store, Orders: svc, Bus: bus, Publisher: pub, Tokens: cfg.Tokens,
		SessionRevoked: cfg.Sessions.Revoked, Now: cfg.Clock, Limits: cfg.HubLimits,
		Observers: hubObservers(reg), Log: cfg.Log,
	})
	if err != nil {
		if pusher != nil {
			pusher.Close()
		}
		pub.Close()
		active.Close()
		return nil, err
	}
	cfg.Sessions.OnEnd(func(sid string) { h.CloseSession(sid) })
	ob.Start() // after the hub started the bus: the relay publishes
	acc := accounts.New(store, cfg.Tokens, cfg.Sessions)
	gate := cfg.HashGate
	if gate == nil {
		gate = limits.NewGate(limits.GateConfig{})
	}
	acc.SetHashGate(gate)
	registerHubMetrics(reg, h)
	registerOutboxMetrics(reg, ob)
	registerLimitMetrics(reg, cfg.Limits, gate, conns, h)
	if pusher != nil {
		registerPushMetrics(reg, pusher)
	}
	mc := cfg.Ops
	mc.Store, mc.Hub, mc.Log = store, h, cfg.Log
	mon := ops.New(mc)
	sc.Store, sc.Orders, sc.Accounts, sc.Tokens = store, svc, acc, cfg.Tokens
	sc.Hub, sc.Publisher, sc.Limits, sc.Conns, sc.Push, sc.Log = h, pub, cfg.Limits, conns, pusher, cfg.Log
	sc.Ops = mon
	srv := server.New(sc)
	mon.Start(sample(h, srv))
	return &App{Orders: svc, Accounts: acc, Publisher: pub, Hub: h, Outbox: ob, Push: pusher, Server: srv, Ops: mon, active: active}, nil
}

// sample reads the instance's counters for its heartbeat.
func sample(h *hub.Hub, srv *server.Server) func() ops.Sample {
	return func() ops.Sample {
		s := h.Stats()
		k := s.SubscriptionsByKind
		return ops.Sample{
			Connections: s.Connections,
			Subscriptions: ops.Subscriptions{
				Order: k[wire.KindOrder], User: k[wire.KindUser], Restaurant: k[wire.KindRestaurant],
				Dispatch: k[wire.KindDispatch], Track: k[wire.KindTrack], Ops: k[wire.KindOps],
			},
			FramesIn: s.Received, FramesOut: s.Written,
			Events: s.Published, EventsDelivered: s.Delivered,
			SlowCloses: s.SlowClosed, RateLimited: srv.RateLimited(),
		}
	}
}

// Shutdown takes the instance out of the fleet's view (its heartbeat is
// deleted), then stops the hub, then the HTTP server, each within its
// own budget: upgraded connections are not the HTTP server's to wait
// for; they get 1012 and may reconnect to another instance. It returns
// the first error.
func (a *App) Shutdown(hubBudget, httpBudget time.Duration) error {
	a.Ops.Close()
	return shutdownInTurn(a.Hub, a.Server, hubBudget, httpBudget)
}

type shutdowner interface{ Shutdown(context.Context) error }

// shutdownInTurn shuts first down, then second, each with a budget of its
// own, so that sockets slow to close cannot use up the time of the
// requests in flight.
func shutdownInTurn(first, second shutdowner, firstBudget, secondBudget time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), firstBudget)
	firstErr := first.Shutdown(ctx)
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), secondBudget)
	defer cancel()
	return errors.Join(firstErr, second.Shutdown(ctx))
}

// Close stops the outbox (marking what is queued), the announcements of
// couriers' changed orders and Web Push (after the outbox, which hands
// them events) and the publisher, after Shutdown; the caller then closes
// the bus, Redis and the store.
func (a *App) Close() {
	a.Ops.Close() // done by Shutdown, unless it was skipped
	a.Outbox.Close()
	a.active.Close()
	if a.Push != nil {
		a.Push.Close()
	}
	a.Publisher.Close()
}
