// Package push sends Web Push notifications (RFC 8030, encrypted as RFC
// 8291 says, signed with VAPID, RFC 8292) of an order's events to the
// parties that have no socket or stream open, through
// github.com/SherClockHolmes/webpush-go.
//
// The outbox hands every event it published to Published (its committer,
// or the relay that published it after its committer did not); that never
// blocks: the event goes into a bounded queue, or is dropped and counted.
// Resolvers read who is to be told (the order's parties but the actor, the
// couriers of an offer), claim the event so that no other instance pushes
// it again, and skip users present on any instance (Presence). Senders,
// a fixed number, post one message each with a deadline; 404 and 410
// delete the subscription, 429 and 5xx are retried later (Retry-After, or
// a backoff) from a bounded schedule that no sender waits on.
//
// The messages of one order to one subscription are posted in the order
// of their events, one after the other (a lane), retries included: with
// Topic, a push service keeps the last it was given, which must be the
// latest. The events of one order go to one resolver for the same reason.
package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Store is what the push service reads and writes: subscriptions, and
// orders (the parties of a chat message or an arrival).
type Store interface {
	delivery.PushStore
	orderReader
}

// Presence tells which users have a socket or stream open on any
// instance; *limits.Conns is one.
type Presence interface {
	Present(ctx context.Context, users []delivery.ID) (map[delivery.ID]bool, error)
}

// Defaults of Config.
const (
	DefaultSubject     = "mailto:ops@localhost"
	DefaultMaxPerUser  = 10
	DefaultSenders     = 8
	DefaultQueue       = 1024
	DefaultSendQueue   = 4096
	DefaultMaxAttempts = 5
	DefaultTimeout     = 10 * time.Second
)

// TTL is how long a push service keeps a message for a device that is
// offline (the TTL header), in seconds.
const TTL = 3600

// Config is what a Service is built from; zero fields take defaults.
type Config struct {
	Store    Store    // required
	Presence Presence // required
	Keys     Keys     // required
	// Subject names the operator to the push services (VAPID_SUBJECT): a
	// mailto: or https: URL.
	Subject string
	// AllowInsecure (PUSH_ALLOW_INSECURE=1, tests only) also takes
	// endpoints on loopback addresses, over http too.
	AllowInsecure bool
	// Claims make one instance push an event; nil keeps them in memory,
	// right for one instance (several share Redis: NewRedisClaims).
	Claims Claims
	// Resolver resolves endpoint hosts (net.DefaultResolver when nil).
	Resolver Resolver
	// MaxPerUser caps a user's subscriptions: registering one more drops
	// the one renewed longest ago.
	MaxPerUser int
	// Senders post at once, at most; Queue bounds the events waiting for
	// a resolver, SendQueue the messages waiting for a sender (and, as
	// many, the retries scheduled).
	Senders   int
	Queue     int
	SendQueue int
	// MaxAttempts bounds the posts of one message; Timeout each post.
	MaxAttempts int
	Timeout     time.Duration
	// Backoff is the first delay of a retry without Retry-After (doubled
	// at each attempt); default 2 s.
	Backoff time.Duration
	Log     zerolog.Logger
}

func (c *Config) setDefaults() {
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Claims == nil {
		c.Claims = newMemoryClaims(time.Now)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxPerUser, DefaultMaxPerUser)
	def(&c.Senders, DefaultSenders)
	def(&c.Queue, DefaultQueue)
	def(&c.SendQueue, DefaultSendQueue)
	def(&c.MaxAttempts, DefaultMaxAttempts)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Backoff <= 0 {
		c.Backoff = 2 * time.Second
	}
}

// resolvers is how many goroutines turn events into messages: each does
// a few store and Redis reads per event.
const resolvers = 2

// Service registers subscriptions and pushes events.
type Service struct {
	cfg    Config
	log    zerolog.Logger
	https  *http.Client    // public addresses (and loopback with AllowInsecure)
	http   *http.Client    // loopback only; nil without AllowInsecure
	events []chan eventJob // by order, one per resolver
	sends  chan *sendJob
	retry  retrySchedule
	// lanes holds, for each subscription and order with a message on its
	// way (queued, posting, or waiting for a retry), the messages after it.
	lanesMu sync.Mutex
	lanes   map[laneKey][]*sendJob
	// ctx ends every store call and post in flight at Close.
	ctx    context.Context
	cancel context.CancelFunc
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	stats  counters
}

type eventJob struct {
	ev    delivery.Event
	offer []byte // the offer view of an order.offered, or nil
}

// CheckSubject refuses a VAPID subject that is not a mailto: or https:
// URL (RFC 8292: a contact for the push services).
func CheckSubject(subject string) error {
	if !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https://") {
		return fmt.Errorf("VAPID_SUBJECT: want a mailto: or https:// URL naming the operator, got %q", subject)
	}
	return nil
}

// New returns a started service; Close stops it.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Presence == nil || cfg.Keys.private == nil {
		return nil, errors.New("push: Store, Presence and Keys are required")
	}
	cfg.setDefaults()
	if err := CheckSubject(cfg.Subject); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	s := &Service{
		cfg:   cfg,
		log:   cfg.Log.With().Str("component", "push").Logger(),
		sends: make(chan *sendJob, cfg.SendQueue),
		lanes: make(map[laneKey][]*sendJob),
		stop:  make(chan struct{}),
	}
	for range resolvers {
		s.events = append(s.events, make(chan eventJob, max(cfg.Queue/resolvers, 1)))
	}
	s.retry.init(cfg.SendQueue)
	s.https = s.client(addressPolicy{allowLoopback: cfg.AllowInsecure})
	if cfg.AllowInsecure {
		s.http = s.client(addressPolicy{loopbackOnly: true})
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(resolvers + cfg.Senders + 1)
	for _, events := range s.events {
		go s.resolveLoop(events)
	}
	for range cfg.Senders {
		go s.sendLoop()
	}
	go s.retryLoop()
	return s, nil
}

// client is an HTTP client whose connections go only where policy
// allows, with no proxy (it would dial for us) and no redirect (it would
// lead elsewhere), each request bounded by Timeout.
func (s *Service) client(policy addressPolicy) *http.Client {
	d := &dialer{resolver: s.cfg.Resolver, policy: policy, net: net.Dialer{Timeout: 5 * time.Second}}
	return &http.Client{
		Timeout: s.cfg.Timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: s.cfg.Timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close stops the service: events and messages still queued are dropped,
// posts in flight are cancelled. Call it after the outbox closed.
func (s *Service) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.cancel()
	})
	s.wg.Wait()
	s.https.CloseIdleConnections()
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
}

// PublicKey is the VAPID public key, base64url (GET /push/key).
func (s *Service) PublicKey() string { return s.cfg.Keys.PublicKey() }

// SubscriptionInput is a browser's PushSubscription as its toJSON()
// gives it: the body of POST /push/subscriptions.
type SubscriptionInput struct {
	Endpoint string `json:"endpoint"`
	// ExpirationTime is what browsers send (null, or when the push
	// service ends the subscription); a push after it fails with 404 or
	// 410, which deletes the subscription.
	ExpirationTime *float64         `json:"expirationTime"`
	Keys           SubscriptionKeys `json:"keys"`
}

// SubscriptionKeys are a subscription's keys, base64url.
type SubscriptionKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// Subscription is a registered subscription as the API answers it.
type Subscription struct {
	Endpoint  string    `json:"endpoint"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Subscribe registers in for a: its endpoint must be an https URL on a
// public address (checked here after resolving its host) and its keys
// those of RFC 8291. A second registration of the endpoint updates it,
// also for another user, whose it then becomes.
func (s *Service) Subscribe(ctx context.Context, a delivery.Actor, in SubscriptionInput) (Subscription, error) {
	if err := s.checkEndpoint(ctx, in.Endpoint); err != nil {
		return Subscription{}, err
	}
	p256dh, err := decodeBase64URL(in.Keys.P256dh)
	if err == nil {
		_, err = ecdh.P256().NewPublicKey(p256dh) // 65 bytes, uncompressed, on the curve
	}
	if err != nil {
		return Subscription{}, delivery.Errorf(delivery.EINVALID, "keys.p256dh: must be a P-256 public key (65 bytes, uncompressed) in base64url")
	}
	auth, err := decodeBase64URL(in.Keys.Auth)
	if err != nil || len(auth) != 16 {
		return Subscription{}, delivery.Errorf(delivery.EINVALID, "keys.auth: must be 16 bytes in base64url")
	}
	saved, err := s.cfg.Store.SavePushSubscription(ctx, delivery.PushSubscription{
		UserID: a.UserID, Endpoint: in.Endpoint,
		P256dh: base64.RawURLEncoding.EncodeToString(p256dh), Auth: base64.RawURLEncoding.EncodeToString(auth),
	}, s.cfg.MaxPerUser)
	if err != nil {
		return Subscription{}, err
	}
	return Subscription{Endpoint: saved.Endpoint, CreatedAt: saved.CreatedAt, UpdatedAt: saved.UpdatedAt}, nil
}

// Unsubscribe deletes a's subscription of endpoint; ENOTFOUND when a has
// none (another user's is none of a's).
func (s *Service) Unsubscribe(ctx context.Context, a delivery.Actor, endpoint string) error {
	if endpoint == "" {
		return delivery.Errorf(delivery.EINVALID, "endpoint: required")
	}
	return s.cfg.Store.DeletePushSubscription(ctx, a.UserID, endpoint)
}

// checkEndpoint refuses an endpoint that is not an https URL on a public
// address, resolving its host.
func (s *Service) checkEndpoint(ctx context.Context, raw string) error {
	u, policy, problem := checkEndpointURL(raw, s.cfg.AllowInsecure)
	if problem != "" {
		return delivery.Errorf(delivery.EINVALID, "endpoint: %s", problem)
	}
	host := strings.ToLower(u.Hostname())
	_, err := checkAddresses(ctx, s.cfg.Resolver, policy, host)
	switch {
	case err == errRefusedAddress:
		return delivery.Errorf(delivery.EINVALID, "endpoint: must be on a public address")
	case err != nil:
		return delivery.Errorf(delivery.EINVALID, "endpoint: its host does not resolve")
	}
	return nil
}

// Published takes an event the outbox published, with its publications
// (outbox.Config.Published); it never blocks: a full queue drops it.
func (s *Service) Published(ev delivery.Event, pubs []delivery.Publication) {
	offer := offerOf(pubs)
	if !pushedEvent(ev.Type) && offer == nil {
		return
	}
	select {
	case <-s.stop:
	case s.events[uint64(ev.OrderID)%resolvers] <- eventJob{ev: ev, offer: offer}:
		s.stats.events.Add(1)
	default:
		s.stats.eventsDropped.Add(1)
	}
}

func (s *Service) resolveLoop(events <-chan eventJob) {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case job := <-events:
			s.resolve(job)
		}
	}
}

// resolveBudget bounds the reads that turn one event into messages.
const resolveBudget = 10 * time.Second

// resolve turns an event into messages for the subscriptions of its
// audience whose users are not present, once per event over every
// instance (Claims).
func (s *Service) resolve(job eventJob) {
	defer s.stats.resolved.Add(1)
	ctx, cancel := context.WithTimeout(s.ctx, resolveBudget)
	defer cancel()
	ev := job.ev
	ns, err := notices(ctx, s.cfg.Store, ev, job.offer)
	if err != nil {
		s.resolveFailed(ctx, ev, "read the event's order", err)
		return
	}
	type target struct {
		n    *notice
		subs []delivery.PushSubscription
	}
	var targets []target
	var users []delivery.ID
	for i := range ns {
		subs, err := s.cfg.Store.PushSubscriptions(ctx, ns[i].audience)
		if err != nil {
			s.resolveFailed(ctx, ev, "read subscriptions", err)
			return
		}
		for _, sub := range subs {
			users = append(users, sub.UserID)
		}
		targets = append(targets, target{&ns[i], subs})
	}
	if len(users) == 0 {
		return
	}
	// Claimed before presence is asked: a copy published later by a
	// relay must not push what this one found seen on a socket.
	claimed, err := s.cfg.Claims.Claim(ctx, ev.OrderID, ev.Seq)
	switch {
	case err != nil:
		// Sending risks a duplicate, not sending loses the push.
		s.log.Warn().Err(err).Str("order_id", ev.OrderID.String()).Int64("seq", ev.Seq).Msg("claim failed; pushing unclaimed")
	case !claimed:
		s.stats.duplicates.Add(1)
		return
	}
	present, err := s.cfg.Presence.Present(ctx, users)
	if err != nil {
		// As for the claim: a push too many rather than none.
		s.log.Warn().Err(err).Msg("presence unknown beyond this instance; pushing")
	}
	for _, t := range targets {
		for _, sub := range t.subs {
			if present[sub.UserID] {
				s.stats.onlineNotSent.Add(1)
				continue
			}
			s.dispatch(&sendJob{sub: sub, msg: t.n.msg, urgent: t.n.urgent})
		}
	}
}

func (s *Service) resolveFailed(ctx context.Context, ev delivery.Event, what string, err error) {
	if ctx.Err() != nil && s.ctx.Err() != nil {
		return // closing
	}
	s.stats.failed.Add(1)
	s.log.Warn().Err(err).Str("order_id", ev.OrderID.String()).Int64("seq", ev.Seq).Str("event", ev.Type).Msg("push: " + what)
}

// laneKey names a lane: one subscription's messages of one order.
type laneKey struct {
	endpoint string
	order    string
}

func (j *sendJob) lane() laneKey { return laneKey{j.sub.Endpoint, j.msg.OrderID} }

// maxLanePending bounds the messages waiting behind one in their lane;
// beyond it they are dropped (the push service would keep the latest
// only anyway, for a device that is offline).
const maxLanePending = 16

// dispatch starts a new message, or puts it behind the one of its lane on
// its way.
func (s *Service) dispatch(job *sendJob) {
	k := job.lane()
	s.lanesMu.Lock()
	if pending, busy := s.lanes[k]; busy {
		if len(pending) >= maxLanePending {
			s.lanesMu.Unlock()
			s.stats.sendsDropped.Add(1)
			return
		}
		s.lanes[k] = append(pending, job)
		s.lanesMu.Unlock()
		return
	}
	s.lanes[k] = nil // busy, nothing behind
	s.lanesMu.Unlock()
	s.start(job)
}

// start hands the head of a lane to the senders; when they are that far
// behind it is dropped and the lane moves on.
func (s *Service) start(job *sendJob) {
	select {
	case s.sends <- job:
		s.stats.queued.Add(1)
	default:
		s.stats.sendsDropped.Add(1)
		s.next(job)
	}
}

// next ends job's turn in its lane: the message behind it starts.
func (s *Service) next(job *sendJob) {
	k := job.lane()
	s.lanesMu.Lock()
	pending := s.lanes[k]
	if len(pending) == 0 {
		delete(s.lanes, k)
		s.lanesMu.Unlock()
		return
	}
	following := pending[0]
	s.lanes[k] = pending[1:]
	s.lanesMu.Unlock()
	s.start(following)
}

type counters struct {
	events, eventsDropped, resolved, queued, sendsDropped, duplicates, onlineNotSent atomic.Uint64
	sent, gone, retried, failed, refused                                             atomic.Uint64
}

// Stats is a snapshot of the service's counters.
type Stats struct {
	Events        uint64 // events queued to be pushed
	EventsDropped uint64 // events dropped on a full queue
	Resolved      uint64 // events whose messages were worked out (queued, skipped, or none)
	Queued        uint64 // messages handed to the senders (retries again)
	SendsDropped  uint64 // messages dropped on a full send queue or retry schedule
	Duplicates    uint64 // events another instance (or an earlier copy) had claimed
	OnlineNotSent uint64 // messages not sent: their user had a socket or stream open
	Sent          uint64 // messages the push service took
	Gone          uint64 // subscriptions deleted on 404 or 410
	Retried       uint64 // posts scheduled again (429, 5xx, network)
	Failed        uint64 // messages given up, and events that could not be read
	Refused       uint64 // posts refused: the endpoint resolved to an address not public
}

// Stats returns the current counters.
func (s *Service) Stats() Stats {
	c := &s.stats
	return Stats{
		Events: c.events.Load(), EventsDropped: c.eventsDropped.Load(), Resolved: c.resolved.Load(), Queued: c.queued.Load(),
		SendsDropped: c.sendsDropped.Load(),
		Duplicates:   c.duplicates.Load(), OnlineNotSent: c.onlineNotSent.Load(), Sent: c.sent.Load(),
		Gone: c.gone.Load(), Retried: c.retried.Load(), Failed: c.failed.Load(), Refused: c.refused.Load(),
	}
}
