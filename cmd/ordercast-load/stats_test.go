package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinBucketError(t *testing.T) {
	var h histogram
	for i := 1; i <= 10_000; i++ { // 0.1 ms … 1 s, uniform
		h.add(time.Duration(i) * 100 * time.Microsecond)
	}
	s := h.summary()
	if s.Count != 10_000 || s.Max != time.Second {
		t.Fatalf("count %d max %s", s.Count, s.Max)
	}
	for _, c := range []struct {
		got, want time.Duration
	}{{s.P50, 500 * time.Millisecond}, {s.P90, 900 * time.Millisecond}, {s.P99, 990 * time.Millisecond}} {
		if d := float64(c.got-c.want) / float64(c.want); d < -0.016 || d > 0.016 {
			t.Errorf("quantile %s, want %s ±1.6%%", c.got, c.want)
		}
	}
}

func TestHistogramSmallAndEdgeValues(t *testing.T) {
	var h histogram
	if s := h.summary(); s.Count != 0 || s.P99 != 0 {
		t.Fatalf("empty: %+v", s)
	}
	h.add(-time.Millisecond) // below zero counts as zero
	h.add(3 * time.Microsecond)
	s := h.summary()
	if s.P50 != 0 || s.P99 != 3*time.Microsecond || s.Max != 3*time.Microsecond {
		t.Fatalf("%+v", s)
	}
	h.add(1000 * time.Hour)
	if s := h.summary(); s.Max != 1000*time.Hour || s.P99 < 985*time.Hour || s.P99 > s.Max {
		t.Fatalf("%+v", s)
	}
	h.add(1 << 50 * time.Microsecond) // beyond the last bucket: counted there, max exact
	if s := h.summary(); s.Max != 1<<50*time.Microsecond || s.P99 > s.Max || s.Count != 4 {
		t.Fatalf("%+v", s)
	}
	for _, us := range []uint64{0, 127, 128, 129, 1 << 20, 1<<20 + 12345} {
		if v, i := histValue(histIndex(us)), histIndex(us); v < us-us/64 || v > us+us/64 || i >= histBuckets {
			t.Errorf("%d µs: bucket %d holds %d", us, i, v)
		}
	}
}

func TestSeqWindowCountsDuplicatesAndLateOnes(t *testing.T) {
	var w seqWindow
	var tl tally
	for _, n := range []uint64{5, 6, 6, 8, 7, 7, 200, 150, 150, 100, 201} {
		tl.count(w.observe(n))
	}
	// 5 6 8 200 201 new in order; 7 and 150 late (once each); 6, 7 and
	// 150 again duplicates; 100 beyond the window: late.
	if tl.distinct != 8 || tl.duplicates != 3 || tl.late != 3 {
		t.Fatalf("%+v", tl)
	}
}

func TestDeliveryStatsLoss(t *testing.T) {
	d := newDeliveryStats(latencies{Count: 10}, 2*time.Second, 100, tally{distinct: 97, duplicates: 2, late: 1})
	if d.Lost != 3 || d.PerSecond != 5 || d.Duplicates != 2 || d.Late != 1 {
		t.Fatalf("%+v", d)
	}
	if d := newDeliveryStats(latencies{}, time.Second, 5, tally{distinct: 7}); d.Lost != 0 {
		t.Fatalf("more received than expected is no loss: %+v", d)
	}
}

func TestParseLoad(t *testing.T) {
	data := loadData(nil, 12, 34, time.Unix(0, 1732406400123456789))
	frame := `{"type":"event","channel":"order:7","event":"load","seq":18,"data":` + string(data) + `,"ts":1732406400123}`
	d, ok := parseLoad([]byte(frame))
	if !ok || d != (loadDelivery{ch: 12, n: 34, sent: 1732406400123456789, seq: 18}) {
		t.Fatalf("%+v %v", d, ok)
	}
	push := `{"push":{"channel":"order:7","pub":{"data":` + string(data) + `,"offset":3}}}`
	if d, ok := parseLoad([]byte(push)); !ok || d.seq != 0 || d.n != 34 {
		t.Fatalf("centrifugo push: %+v %v", d, ok)
	}
	for _, bad := range []string{`{"type":"ack","id":1}`, `{"data":{"load":[1,2]}}`, `{"data":{"load":[1,x,3]}}`, `{"data":{"load":[1,2,3`} {
		if _, ok := parseLoad([]byte(bad)); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestParseLocationNumbersByLatitude(t *testing.T) {
	n, sent, ok := parseLocation([]byte(`{"type":"event","channel":"order:1","event":"courier.location","data":{"courier_id":"3","lat":52.0017,"lng":13.4,"ts":1732406400000},"ts":1732406400005}`))
	if !ok || n != 17 || sent != 1732406400000*int64(time.Millisecond) {
		t.Fatalf("%d %d %v", n, sent, ok)
	}
}

func TestProcReaders(t *testing.T) {
	// A command name with a space and a parenthesis, as the kernel writes it.
	stat := "4242 (ordercast (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 9 0 12345 1000000 2000 18446744073709551615\n"
	cpu, err := parseStatCPU([]byte(stat))
	if err != nil || cpu != 3800*time.Millisecond {
		t.Fatalf("cpu %s %v", cpu, err)
	}
	status := "Name:\tordercast\nVmPeak:\t  900000 kB\nVmRSS:\t   23456 kB\nThreads:\t9\n"
	rss, err := parseStatusRSS([]byte(status))
	if err != nil || rss != 23456*1024 {
		t.Fatalf("rss %d %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tkthreadd\n")); err == nil {
		t.Fatal("no VmRSS accepted")
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "4242"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "4242", "stat"), []byte(stat), 0o644)
	os.WriteFile(filepath.Join(dir, "4242", "status"), []byte(status), 0o644)
	u, err := procProcess(dir, 4242).sample(t.Context())
	if err != nil || u != (usage{cpu: 3800 * time.Millisecond, rss: 23456 * 1024}) {
		t.Fatalf("%+v %v", u, err)
	}

	// This very process, as the kernel reports it.
	if u, err := procProcess("/proc", os.Getpid()).sample(t.Context()); err != nil || u.rss <= 0 {
		t.Fatalf("own process: %+v %v", u, err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := "# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n" +
		"process_resident_memory_bytes 4.2e+07\ngo_goroutines 9\n"
	u, err := parseMetrics(strings.NewReader(text), "test")
	if err != nil || u.cpu != 12500*time.Millisecond || u.rss != 42_000_000 {
		t.Fatalf("%+v %v", u, err)
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines 9\n"), "test"); err == nil {
		t.Fatal("metrics without process figures accepted")
	}
}
