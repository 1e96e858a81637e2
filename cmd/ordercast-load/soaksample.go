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
	// Baseline is before the load, or for an instance restarted during
	// the run the sample right after its restart, before the balancer
	// sent it anything (BaselineNote says which).
	Baseline     instanceSample `json:"baseline"`
	BaselineNote string         `json:"baseline_note"`
	// Peak is each figure's highest since the baseline.
	Peak         instanceSample   `json:"peak"`
	After        instanceSample   `json:"after"`
	Limits       instanceSample   `json:"limits"` // the tolerance After is held to (goroutines and fds)
	Settled      bool             `json:"settled"`
	SettledIn    time.Duration    `json:"settled_in_ns"`
	Samples      []instanceSample `json:"samples"`
	SampleErrors int              `json:"sample_errors,omitempty"`
}

// limits is the tolerance of goroutineSlack and fdSlack over the
// baseline.
func (ser *instanceSeries) limits() instanceSample {
	lim := func(base, peak, slack int) int { return base + slack + max(peak-base, 0)/20 }
	return instanceSample{Goroutines: lim(ser.Baseline.Goroutines, ser.Peak.Goroutines, goroutineSlack),
		FDs: lim(ser.Baseline.FDs, ser.Peak.FDs, fdSlack)}
}

func (ser *instanceSeries) observe(x instanceSample) {
	ser.Samples = append(ser.Samples, x)
	ser.Peak.RSS = max(ser.Peak.RSS, x.RSS)
	ser.Peak.Goroutines = max(ser.Peak.Goroutines, x.Goroutines)
	ser.Peak.FDs = max(ser.Peak.FDs, x.FDs)
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
	ser := s.series[i]
	ser.Baseline, ser.BaselineNote, ser.Peak = x, note, x
	ser.Samples = append(ser.Samples, x)
	return nil
}
