package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/metrics"
	"github.com/ordercast/ordercast/internal/outbox"
	"github.com/ordercast/ordercast/internal/push"
)

// hubObservers are the histograms of the hub's replays, registered on
// reg.
func hubObservers(reg prometheus.Registerer) hub.Observers {
	replay := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ordercast_hub_replay_events",
		Help:    "Durable events queued by one replay that queued any, by kind: resume (a subscribe with since) or repair (a gap).",
		Buckets: prometheus.ExponentialBuckets(1, 4, 7), // 1 to 4096
	}, []string{"kind"})
	reg.MustRegister(replay)
	return hub.Observers{Resume: replay.WithLabelValues("resume"), Repair: replay.WithLabelValues("repair")}
}

// queueCollector exports the hub's own histogram of send queues, whose
// sweeper counts a sample per connection into plain buckets: a
// Prometheus histogram's Observe per connection, in the sweep that holds
// the hub's lock, measured several times their cost.
type queueCollector struct {
	h    *hub.Hub
	desc *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q := c.h.Stats().SendQueue
	buckets := make(map[float64]uint64, len(hub.SendQueueBuckets))
	var count uint64
	for i, n := range q.Counts {
		count += n
		if i < len(hub.SendQueueBuckets) {
			buckets[float64(hub.SendQueueBuckets[i])] = count
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.desc, count, float64(q.Sum), buckets)
}

func registerHubMetrics(reg prometheus.Registerer, h *hub.Hub) {
	m := metrics.Stats[hub.Stats]{Prefix: "ordercast_hub_", Read: h.Stats}
	const shedHelp = "Ephemeral frames dropped for connections with a full send queue, which stay open, by class."
	shed := func(class string, v func(hub.Stats) uint64) prometheus.Collector {
		return m.Labeled("shed_total", shedHelp, prometheus.Labels{"class": class}, v)
	}
	reg.MustRegister(
		m.Gauge("connections", "Websocket connections and event streams open now.", func(s hub.Stats) float64 { return float64(s.Connections) }),
		m.Gauge("subscriptions", "Channel subscriptions now.", func(s hub.Stats) float64 { return float64(s.Subscriptions) }),
		m.Counter("accepted_total", "Websocket connections and event streams accepted.", func(s hub.Stats) uint64 { return s.Accepted }),
		m.Counter("published_total", "Frames handed to the bus.", func(s hub.Stats) uint64 { return s.Published }),
		m.Counter("delivered_total", "Frames queued to sockets.", func(s hub.Stats) uint64 { return s.Delivered }),
		m.Counter("written_total", "Frames written to sockets.", func(s hub.Stats) uint64 { return s.Written }),
		m.Counter("written_at_once_total", "Frames written to sockets by their sender, without a writer goroutine.", func(s hub.Stats) uint64 { return s.WrittenAtOnce }),
		m.Counter("writers_total", "Writer goroutines started, each for a burst of frames.", func(s hub.Stats) uint64 { return s.Writers }),
		m.Counter("replayed_total", "Durable events replayed from the store (since, gap repair).", func(s hub.Stats) uint64 { return s.Replayed }),
		m.Counter("repairs_total", "Gaps found in live order channels.", func(s hub.Stats) uint64 { return s.Repairs }),
		m.Counter("slow_closed_total", "Connections closed with 4009.", func(s hub.Stats) uint64 { return s.SlowClosed }),
		m.Counter("rate_limited_total", "Connections closed with 4008.", func(s hub.Stats) uint64 { return s.RateLimited }),
		m.Counter("expired_total", "Connections closed with 4001.", func(s hub.Stats) uint64 { return s.Expired }),
		m.Counter("typing_coalesced_total", "Typing frames dropped within the interval.", func(s hub.Stats) uint64 { return s.TypingCoalesced }),
		m.Counter("locations_sent_total", "Courier positions published to order channels.", func(s hub.Stats) uint64 { return s.LocationsSent }),
		m.Counter("locations_held_total", "Courier positions held back by the throttle.", func(s hub.Stats) uint64 { return s.LocationsHeld }),
		m.Counter("locations_stale_total", "Courier positions not given to a subscriber that already had a later event of the order.", func(s hub.Stats) uint64 { return s.LocationsStale }),
		m.Counter("feed_duplicates_total", "Second copies of a durable event dropped on a feed (relayed after their publisher died).", func(s hub.Stats) uint64 { return s.FeedDuplicates }),
		shed("location", func(s hub.Stats) uint64 { return s.ShedLocations }),
		shed("typing", func(s hub.Stats) uint64 { return s.ShedTyping }),
		shed("read", func(s hub.Stats) uint64 { return s.ShedReads }),
		shed("offer", func(s hub.Stats) uint64 { return s.ShedOffers }),
		shed("publish", func(s hub.Stats) uint64 { return s.ShedPublishes }),
		&queueCollector{h: h, desc: prometheus.NewDesc("ordercast_hub_send_queue_frames",
			"Frames queued to each open connection, sampled every second.", nil, nil)},
	)
	for t, transport := range hub.Transports {
		reg.MustRegister(m.Labeled("connections_opened_total", "Websocket connections and event streams accepted, by transport.",
			prometheus.Labels{"transport": transport}, func(s hub.Stats) uint64 { return s.Opened[t] }))
		for i, code := range hub.CloseCodes {
			reg.MustRegister(m.Labeled("connections_closed_total",
				"Websocket connections and event streams ended, by transport and close code: the hub's, else the peer's; none when neither sent one.",
				prometheus.Labels{"transport": transport, "code": code}, func(s hub.Stats) uint64 { return s.Closed[t][i] }))
		}
	}
}

// lagTimeout bounds the store read of the outbox lag at each scrape.
const lagTimeout = 2 * time.Second

func registerOutboxMetrics(reg prometheus.Registerer, o *outbox.Outbox) {
	m := metrics.Stats[outbox.Stats]{Prefix: "ordercast_outbox_", Read: o.Stats}
	reg.MustRegister(
		m.Counter("marked_total", "Events marked published by the instance that committed them.", func(s outbox.Stats) uint64 { return s.Marked }),
		m.Counter("relayed_total", "Events published by a relay after their committer did not.", func(s outbox.Stats) uint64 { return s.Relayed }),
		m.Counter("publish_failed_total", "Commits whose own publish failed, left to the relay.", func(s outbox.Stats) uint64 { return s.PublishFailed }),
		m.Counter("mark_errors_total", "Failed batches of marks.", func(s outbox.Stats) uint64 { return s.MarkErrors }),
		m.Counter("marks_dropped_total", "Marks dropped on a full queue (the relay republishes).", func(s outbox.Stats) uint64 { return s.MarksDropped }),
		m.Counter("expired_total", "Events past the relay horizon, never relayed.", func(s outbox.Stats) uint64 { return s.Expired }),
		m.Counter("unroutable_total", "Events a relay could not route, skipped.", func(s outbox.Stats) uint64 { return s.Unroutable }),
		&lagCollector{o: o, desc: prometheus.NewDesc("ordercast_outbox_lag_seconds",
			"Age of the oldest unpublished event in the store (0: none), read at each scrape; absent while the store does not answer.", nil, nil)},
	)
}

// lagCollector reads the outbox's lag from the store at each scrape; a
// store that fails leaves the sample out rather than report 0.
type lagCollector struct {
	o    *outbox.Outbox
	desc *prometheus.Desc
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	lag, err := c.o.Lag(ctx, time.Now())
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, lag.Seconds())
}

// registerLimitMetrics exports the refusals of every limit as one
// counter, by limit: the rate limits (nil: off, all 0), the hashing
// gate, the socket caps and the hub's frame limit (its 4008 closes).
func registerLimitMetrics(reg prometheus.Registerer, l *limits.Limits, gate *limits.Gate, conns *limits.Conns, h *hub.Hub) {
	const name, help = "ordercast_limit_refusals_total", "Requests, handshakes and frames refused by a limit, by limit."
	counter := func(limit string, v func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"limit": limit}},
			func() float64 { return float64(v()) })
	}
	reg.MustRegister(
		counter("login", func() uint64 { return l.Stats().Login }),
		counter("register", func() uint64 { return l.Stats().Register }),
		counter("placements", func() uint64 { return l.Stats().Orders }),
		counter("chat", func() uint64 { return l.Stats().Chat }),
		counter("positions", func() uint64 { return l.Stats().Positions }),
		counter("hashing", gate.Refused),
		counter("conns_per_user", func() uint64 { return conns.Stats().RefusedPerUser }),
		counter("conns_instance", func() uint64 { return conns.Stats().RefusedInstance }),
		counter("frames", func() uint64 { return h.Stats().RateLimited }),
	)
}

func registerPushMetrics(reg prometheus.Registerer, p *push.Service) {
	m := metrics.Stats[push.Stats]{Prefix: "ordercast_push_", Read: p.Stats}
	reg.MustRegister(
		m.Counter("events_total", "Events queued to be pushed.", func(s push.Stats) uint64 { return s.Events }),
		m.Counter("events_dropped_total", "Events dropped on a full push queue.", func(s push.Stats) uint64 { return s.EventsDropped }),
		m.Counter("resolved_total", "Events whose push messages were worked out.", func(s push.Stats) uint64 { return s.Resolved }),
		m.Counter("queued_total", "Push messages handed to the senders, retries included.", func(s push.Stats) uint64 { return s.Queued }),
		m.Counter("sends_dropped_total", "Push messages dropped on a full send queue, lane or retry schedule.", func(s push.Stats) uint64 { return s.SendsDropped }),
		m.Counter("duplicates_total", "Events already claimed by another instance or an earlier copy.", func(s push.Stats) uint64 { return s.Duplicates }),
		m.Counter("skipped_present_total", "Push messages not sent: their user had a socket or stream open.", func(s push.Stats) uint64 { return s.OnlineNotSent }),
		m.Counter("sent_total", "Push messages the push services took.", func(s push.Stats) uint64 { return s.Sent }),
		m.Counter("gone_total", "Subscriptions deleted on 404 or 410.", func(s push.Stats) uint64 { return s.Gone }),
		m.Counter("retried_total", "Posts scheduled again after 429, 5xx or a network failure.", func(s push.Stats) uint64 { return s.Retried }),
		m.Counter("failed_total", "Push messages given up, and events that could not be read.", func(s push.Stats) uint64 { return s.Failed }),
		m.Counter("refused_total", "Posts refused: the endpoint resolved to an address that is not public.", func(s push.Stats) uint64 { return s.Refused }),
	)
}
