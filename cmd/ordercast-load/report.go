package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// result is one run, printed for people and as one JSON line for
// comparing runs.
type result struct {
	Target      string         `json:"target"`
	Scenario    string         `json:"scenario"`
	Settings    map[string]any `json:"settings"`
	Connections int            `json:"connections"`
	Setup       time.Duration  `json:"setup_ns"`
	Window      time.Duration  `json:"window_ns"`

	Publishes  *publishStats   `json:"publishes,omitempty"`
	Deliveries *deliveryStats  `json:"deliveries,omitempty"`
	Lifecycle  *lifecycleStats `json:"lifecycle,omitempty"`
	Soak       *soakStats      `json:"soak,omitempty"`

	Processes []processUsage `json:"processes"`
	// CPUPer100k is the processes' CPU seconds over the window per 100k
	// deliveries of publishes sent in it.
	CPUPer100k float64 `json:"cpu_s_per_100k_deliveries,omitempty"`
	// RSSPerConn is the processes' growth in resident memory from before
	// the sockets opened to the window's end, per socket.
	RSSPerConn float64 `json:"rss_bytes_per_conn,omitempty"`
	// Cores is the processes' CPU time over the window per second.
	Cores float64 `json:"cores"`

	Problems []string `json:"problems,omitempty"`
}

type publishStats struct {
	Acked     uint64  `json:"acked"`
	Failed    uint64  `json:"failed"`
	Skipped   uint64  `json:"skipped,omitempty"`
	GaveUp    uint64  `json:"gave_up,omitempty"`
	PerSecond float64 `json:"per_second"` // acked over the whole publishing time
	LastError string  `json:"last_error,omitempty"`
}

type deliveryStats struct {
	// InWindow are first deliveries of publishes sent in the window.
	InWindow  uint64    `json:"in_window"`
	PerSecond float64   `json:"per_second"`
	Latency   latencies `json:"latency"`
	// Over the whole run: every acked publish times its subscribers.
	Expected   uint64 `json:"expected"`
	Received   uint64 `json:"received"`
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
	// Late are deliveries below a number already delivered on their
	// subscription: an order violation where numbers are seqs (durable),
	// and expected with several publishes to one channel in flight.
	Late uint64 `json:"late"`
}

func newDeliveryStats(lat latencies, window time.Duration, expected uint64, t tally) *deliveryStats {
	d := &deliveryStats{InWindow: lat.Count, PerSecond: float64(lat.Count) / window.Seconds(), Latency: lat,
		Expected: expected, Received: t.distinct, Duplicates: t.duplicates, Late: t.late}
	if expected > t.distinct {
		d.Lost = expected - t.distinct
	}
	return d
}

// measure fills the process figures from samples before the sockets
// opened (base), at the window's start and at its end.
func (r *result) measure(ps []process, base, start, end []usage, deliveries uint64) {
	var cpu time.Duration
	var grown int64
	for i, p := range ps {
		pu := processUsage{Name: p.name, CPU: end[i].cpu - start[i].cpu, RSSBase: base[i].rss, RSS: end[i].rss}
		r.Processes = append(r.Processes, pu)
		cpu += pu.CPU
		grown += pu.RSS - pu.RSSBase
	}
	r.Cores = cpu.Seconds() / r.Window.Seconds()
	if deliveries > 0 {
		r.CPUPer100k = cpu.Seconds() / float64(deliveries) * 100_000
	}
	if r.Connections > 0 {
		r.RSSPerConn = float64(grown) / float64(r.Connections)
	}
}

func (r *result) print(w io.Writer) {
	var keys []string
	for k, v := range r.Settings {
		keys = append(keys, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(keys)
	fmt.Fprintf(w, "%s %s (%s): %d sockets, set up in %s, measured %s\n", r.Target, r.Scenario, strings.Join(keys, " "),
		r.Connections, r.Setup.Round(time.Millisecond), r.Window.Round(time.Millisecond))
	if p := r.Publishes; p != nil {
		fmt.Fprintf(w, "publishes: %d acked (%.0f/s), %d failed", p.Acked, p.PerSecond, p.Failed)
		if p.Skipped > 0 {
			fmt.Fprintf(w, ", %d offered but skipped (every request busy)", p.Skipped)
		}
		if p.GaveUp > 0 {
			fmt.Fprintf(w, ", %d not delivered to all in time", p.GaveUp)
		}
		fmt.Fprintln(w)
		if p.LastError != "" {
			fmt.Fprintf(w, "  last publish error: %s\n", p.LastError)
		}
	}
	if d := r.Deliveries; d != nil {
		fmt.Fprintf(w, "deliveries: %d in the window (%.0f/s); latency p50 %s, p90 %s, p99 %s, max %s\n", d.InWindow, d.PerSecond,
			ms(d.Latency.P50), ms(d.Latency.P90), ms(d.Latency.P99), ms(d.Latency.Max))
		fmt.Fprintf(w, "whole run: %d expected, %d received, %d lost, %d duplicates, %d late\n", d.Expected, d.Received, d.Lost, d.Duplicates, d.Late)
	}
	if l := r.Lifecycle; l != nil {
		l.print(w)
	}
	if st := r.Soak; st != nil {
		st.print(w)
	}
	for _, p := range r.Processes {
		fmt.Fprintf(w, "process %s: CPU %.2f s (%.3f cores), RSS %s (from %s)\n", p.Name, p.CPU.Seconds(), p.CPU.Seconds()/r.Window.Seconds(), mib(p.RSS), mib(p.RSSBase))
	}
	if r.CPUPer100k > 0 {
		fmt.Fprintf(w, "CPU per 100k deliveries: %.2f s\n", r.CPUPer100k)
	}
	switch {
	case r.RSSPerConn > 0:
		fmt.Fprintf(w, "RSS per connection: %.1f KiB\n", r.RSSPerConn/1024)
	case r.Connections > 0 && len(r.Processes) > 0: // the runtime gave back memory of an earlier run
		fmt.Fprintln(w, "RSS per connection: n/a (RSS fell; measure on a fresh server)")
	}
	if r.Scenario == "idle" && r.Connections > 0 {
		fmt.Fprintf(w, "idle CPU: %.4f cores per 10k sockets\n", r.Cores/float64(r.Connections)*10_000)
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
