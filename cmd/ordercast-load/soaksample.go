package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// What the soak samples of each instance: resident memory (VmRSS of
// /proc/PID/status), goroutines (go_goroutines of its /metrics, on
// METRICS_ADDR) and open files (the entries of /proc/PID/fd): before the
// load, every -sample-every during it, and after it until they are back
// at the baseline.

type instanceSample struct {
	At         time.Duration `json:"at_ns"` // since the traffic started (negative: before)
	RSS        int64         `json:"rss_bytes"`
	Goroutines int           `json:"goroutines"`
	FDs        int           `json:"fds"`
}

type instanceSeries struct {
	Name string `json:"name"`
	// Lives are the instance's processes, one per start: the first's
	// baseline is before the load, a restarted one's the sample right
	// after its restart, before the balancer sent it anything. The last
	// is held to its baseline after the load.
	Lives        []instanceLife   `json:"lives"`
	After        instanceSample   `json:"after"`
	Limits       instanceSample   `json:"limits"` // the tolerance After is held to (goroutines and fds)
	Settled      bool             `json:"settled"`
	SettledIn    time.Duration    `json:"settled_in_ns"`
	Samples      []instanceSample `json:"samples"`
	SampleErrors int              `json:"sample_errors,omitempty"`
}

type instanceLife struct {
	Note     string         `json:"note"`
	Baseline instanceSample `json:"baseline"`
	Peak     instanceSample `json:"peak"` // each figure's highest in this life (At: the baseline's)
}

func (ser *instanceSeries) start(note string, base instanceSample) {
	ser.Lives = append(ser.Lives, instanceLife{Note: note, Baseline: base, Peak: base})
	ser.Samples = append(ser.Samples, base)
}

func (ser *instanceSeries) last() *instanceLife { return &ser.Lives[len(ser.Lives)-1] }

// limits is the tolerance of goroutineSlack and fdSlack over the last
// life's baseline.
func (ser *instanceSeries) limits() instanceSample {
	l := ser.last()
	lim := func(base, peak, slack int) int { return base + slack + max(peak-base, 0)/20 }
	return instanceSample{Goroutines: lim(l.Baseline.Goroutines, l.Peak.Goroutines, goroutineSlack),
		FDs: lim(l.Baseline.FDs, l.Peak.FDs, fdSlack)}
}

func (ser *instanceSeries) observe(x instanceSample) {
	ser.Samples = append(ser.Samples, x)
	p := &ser.last().Peak
	p.RSS = max(p.RSS, x.RSS)
	p.Goroutines = max(p.Goroutines, x.Goroutines)
	p.FDs = max(p.FDs, x.FDs)
}

func (s *soak) sample(ctx context.Context, in *instance) (instanceSample, error) {
	pid := in.pid()
	if pid == 0 {
		return instanceSample{}, fmt.Errorf("instance %s is not running", in.name)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", in.metrics, nil)
	if err != nil {
		return instanceSample{}, err
	}
	resp, err := s.metrics.Do(req)
	if err != nil {
		return instanceSample{}, err
	}
	v, err := metricValues(io.LimitReader(resp.Body, 16<<20), "go_goroutines")
	resp.Body.Close()
	if err != nil {
		return instanceSample{}, fmt.Errorf("%s: %w", in.metrics, err)
	}
	g, ok := v["go_goroutines"]
	if !ok {
		return instanceSample{}, fmt.Errorf("%s: no go_goroutines", in.metrics)
	}
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return instanceSample{}, err
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return instanceSample{}, fmt.Errorf("%s/status: %w", dir, err)
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return instanceSample{}, err
	}
	at := time.Duration(0)
	if !s.start.IsZero() {
		at = time.Since(s.start)
	}
	return instanceSample{At: at, RSS: rss, Goroutines: int(g), FDs: len(fds)}, nil
}

// sampleEvery samples the instances that are up every d until ctx ends.
func (s *soak) sampleEvery(ctx context.Context, d time.Duration) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, in := range s.bal.insts {
			if !in.up.Load() { // stopped, or restarted and not yet rebased
				continue
			}
			x, err := s.sample(ctx, in)
			s.mu.Lock()
			if err != nil {
				s.series[i].SampleErrors++
			} else {
				s.series[i].observe(x)
			}
			s.mu.Unlock()
		}
	}
}

// rebase takes instance i's baseline again, after its restart.
func (s *soak) rebase(ctx context.Context, i int, note string) error {
	x, err := s.sample(ctx, s.bal.insts[i])
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[i].start(note, x)
	return nil
}
