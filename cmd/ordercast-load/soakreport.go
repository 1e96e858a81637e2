package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// soakStats is what a soak reports.
type soakStats struct {
	Orders    map[string]uint64 `json:"orders"`
	Committed uint64            `json:"events_committed"` // durable events in the logs of the run's orders
	// Durable sums the verdicts of every (party, order): each party
	// expects every event of its orders' logs.
	Durable     verdict `json:"durable"`
	PartyOrders uint64  `json:"party_orders"`
	Behind      int     `json:"behind_at_drain"` // (party, order) pairs short of the log when -drain ran out
	// At the wire, dropped by the client library: copies, and late
	// frames (below the cursor, never applied); gaps: applied past a
	// missing seq.
	WireDuplicates uint64 `json:"wire_duplicates"`
	Late           uint64 `json:"late"`
	Gaps           uint64 `json:"gaps"`

	Reconnects     map[string]uint64 `json:"reconnects"` // sockets lost, by cause
	DialFailures   map[string]uint64 `json:"dial_failures"`
	OtherDialError string            `json:"other_dial_error,omitempty"` // the last failed handshake of no known kind
	Refused        map[string]uint64 `json:"refused,omitempty"`          // error frames, by the frame's kind and code
	Strange        map[string]uint64 `json:"strange,omitempty"`          // frames the soak did not expect
	FeedEvents     map[string]uint64 `json:"feed_events"`                // durable events on feeds (counted, not applied)
	Ephemeral      map[string]uint64 `json:"ephemeral"`                  // frames without seq, by event and channel kind
	Typing         struct {
		Sent, Expected, Received, Failed uint64
	} `json:"typing"`
	Positions struct {
		Sent, Acked, Received uint64
		// Expected and Lost: see positionsSeen.missing.
		Expected, Lost uint64
	} `json:"positions"`
	Chat map[string]uint64 `json:"chat"`
	// REST is from the traffic's start on; SetupREST before it.
	REST           restSummary `json:"rest"`
	SetupREST      restSummary `json:"setup_rest"`
	LastOrderError string      `json:"last_order_error,omitempty"`

	Faults    []faultRecord     `json:"faults"`
	Instances []*instanceSeries `json:"instances"`
	// Failures are why the run failed (exit status 1); none: it passed.
	Failures []string `json:"failures,omitempty"`
}

// verdicts are the run's failures: a durable event lost, duplicated,
// reordered or unknown to the application; an instance not back at its
// baseline within -settle; a fault not recovered from; nothing checked.
func (st *soakStats) verdicts(cfg config) []string {
	var fs []string
	d := st.Durable
	if d.Lost > 0 {
		fs = append(fs, fmt.Sprintf("%d durable events lost (of %d expected by the parties)", d.Lost, d.Expected))
	}
	if d.Duplicates > 0 {
		fs = append(fs, fmt.Sprintf("%d duplicates delivered to the application", d.Duplicates))
	}
	if d.OutOfOrder > 0 {
		fs = append(fs, fmt.Sprintf("%d durable events applied out of seq order", d.OutOfOrder))
	}
	if d.Unknown > 0 {
		fs = append(fs, fmt.Sprintf("%d events applied that their order's log does not hold", d.Unknown))
	}
	if st.Orders["delivered"] == 0 {
		fs = append(fs, "no order was delivered: nothing of a whole lifecycle was checked")
	}
	for _, f := range st.Faults {
		if f.Err != "" {
			fs = append(fs, fmt.Sprintf("fault %s at %s: %s", f.Kind, f.At.Round(time.Second), f.Err))
		}
	}
	for _, in := range st.Instances {
		if !in.Settled {
			fs = append(fs, fmt.Sprintf("instance %s not back at its baseline within %s: goroutines %d (limit %d), fds %d (limit %d)",
				in.Name, cfg.settle, in.After.Goroutines, in.Limits.Goroutines, in.After.FDs, in.Limits.FDs))
		}
	}
	return fs
}

func (r *result) failed() bool { return r != nil && r.Soak != nil && len(r.Soak.Failures) > 0 }

func (st *soakStats) print(w io.Writer) {
	fmt.Fprintf(w, "orders: %s\n", counts(st.Orders))
	d := st.Durable
	fmt.Fprintf(w, "durable events: %d committed; over %d (party, order) pairs %d expected, %d applied: %d lost, %d duplicates delivered to the application, %d out of order, %d unknown\n",
		st.Committed, st.PartyOrders, d.Expected, d.Applied, d.Lost, d.Duplicates, d.OutOfOrder, d.Unknown)
	fmt.Fprintf(w, "  at the wire: %d duplicates dropped by the client, %d late (reordered, dropped), %d gaps; %d pairs behind when the drain ended\n",
		st.WireDuplicates, st.Late, st.Gaps, st.Behind)
	fmt.Fprintf(w, "reconnects: %d (%s); failed handshakes: %d (%s)\n", sum(st.Reconnects), counts(st.Reconnects), sum(st.DialFailures), counts(st.DialFailures))
	if st.OtherDialError != "" {
		fmt.Fprintf(w, "  the last of other: %s\n", st.OtherDialError)
	}
	fmt.Fprintf(w, "chat messages: %s\n", counts(st.Chat))
	t, p := st.Typing, st.Positions
	fmt.Fprintf(w, "ephemeral (counted, not checked): typing %d sent (%d failed), %d received of %d expected (%s lost);"+
		" positions %d sent, %d acknowledged, %d received, %d missing of %d expected between each watcher's first and last (%s)\n",
		t.Sent, t.Failed, t.Received, t.Expected, lossShare(t.Expected, t.Received), p.Sent, p.Acked, p.Received, p.Lost, p.Expected, share(p.Lost, p.Expected))
	fmt.Fprintf(w, "  frames: %s\n", counts(st.Ephemeral))
	fmt.Fprintf(w, "  feed events (durable, not applied): %s\n", counts(st.FeedEvents))
	if len(st.Refused) > 0 {
		fmt.Fprintf(w, "error frames: %s\n", counts(st.Refused))
	}
	if len(st.Strange) > 0 {
		fmt.Fprintf(w, "unexpected frames: %s\n", counts(st.Strange))
	}
	for _, r := range []struct {
		name string
		r    restSummary
	}{{"REST from the traffic's start", st.REST}, {"REST of the set-up", st.SetupREST}} {
		fmt.Fprintf(w, "%s: %d requests, %d retried; answers %s; no answer: %s\n", r.name, r.r.Requests, r.r.Retries, counts(r.r.ByStatus), counts(r.r.NoAnswer))
	}
	fmt.Fprintln(w, "  (retried: a 503 or no answer, sent again to either instance with the same Idempotency-Key or client_msg_id)")
	if st.LastOrderError != "" {
		fmt.Fprintf(w, "  last order error: %s\n", st.LastOrderError)
	}
	for _, f := range st.Faults {
		what := map[string]string{"redis": "Redis killed and started again", "kill": "A killed (SIGKILL) and started again",
			"term": "B stopped (SIGTERM) and started again"}[f.Kind]
		fmt.Fprintf(w, "fault at %s: %s: stopped in %s, serving again after %s", f.At.Round(time.Second), what,
			f.Stopped.Round(time.Millisecond), f.Down.Round(time.Millisecond))
		if f.Err != "" {
			fmt.Fprintf(w, ": %s", f.Err)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "instance\tbaseline\tRSS base / peak / after\tgoroutines base / peak / after (limit)\tfds base / peak / after (limit)\tback at baseline")
	for _, in := range st.Instances {
		for i, l := range in.Lives {
			b, pk := l.Baseline, l.Peak
			if i < len(in.Lives)-1 { // an earlier process: no after
				fmt.Fprintf(tw, "%s\t%s\t%s / %s / -\t%d / %d / -\t%d / %d / -\t-\n", in.Name, l.Note, mib(b.RSS), mib(pk.RSS),
					b.Goroutines, pk.Goroutines, b.FDs, pk.FDs)
				continue
			}
			back := "no"
			if in.Settled {
				back = "in " + in.SettledIn.Round(time.Second).String()
			}
			a := in.After
			fmt.Fprintf(tw, "%s\t%s\t%s / %s / %s\t%d / %d / %d (%d)\t%d / %d / %d (%d)\t%s\n", in.Name, l.Note,
				mib(b.RSS), mib(pk.RSS), mib(a.RSS), b.Goroutines, pk.Goroutines, a.Goroutines, in.Limits.Goroutines,
				b.FDs, pk.FDs, a.FDs, in.Limits.FDs, back)
		}
	}
	tw.Flush()
	if len(st.Failures) == 0 {
		fmt.Fprintln(w, "PASS: every party applied every durable event of its orders exactly once and in seq order; both instances back at their baseline")
	}
	for _, f := range st.Failures {
		fmt.Fprintln(w, "FAIL:", f)
	}
}

// counts prints a count by key, highest first.
func counts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func share(part, whole uint64) string {
	if whole == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(part)/float64(whole))
}

// lossShare is the share of expected frames that did not come (an
// estimate: more may come than expected, when a party subscribed just as
// it was counted).
func lossShare(expected, received uint64) string {
	if received >= expected {
		return share(0, expected)
	}
	return share(expected-received, expected)
}
