package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A process is one server process the run measures: by pid from /proc
// when the tool runs on its host, else from the process metrics its
// /metrics exports (the Go client's process collector reads the same
// /proc files in the server).
type process struct {
	name   string
	sample func(context.Context) (usage, error)
}

// usage is a process's CPU time so far and its resident memory now.
type usage struct {
	cpu time.Duration
	rss int64 // bytes
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go runs on (the kernel fixes it for
// userspace whatever its own HZ).
const clockTicks = 100

func procProcess(root string, pid int) process {
	dir := fmt.Sprintf("%s/%d", root, pid)
	return process{name: fmt.Sprintf("pid %d", pid), sample: func(context.Context) (usage, error) {
		stat, err := os.ReadFile(dir + "/stat")
		if err != nil {
			return usage{}, err
		}
		cpu, err := parseStatCPU(stat)
		if err != nil {
			return usage{}, fmt.Errorf("%s/stat: %w", dir, err)
		}
		status, err := os.ReadFile(dir + "/status")
		if err != nil {
			return usage{}, err
		}
		rss, err := parseStatusRSS(status)
		if err != nil {
			return usage{}, fmt.Errorf("%s/status: %w", dir, err)
		}
		return usage{cpu: cpu, rss: rss}, nil
	}}
}

// parseStatCPU is utime + stime of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the name: state (field 3) … utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseStatusRSS is VmRSS of /proc/<pid>/status, in bytes.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range strings.Lines(string(status)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS %q", strings.TrimSpace(v))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb * 1024, err
	}
	return 0, fmt.Errorf("no VmRSS (a kernel thread, or the process ended)")
}

func metricsProcess(client *http.Client, base string) process {
	u := strings.TrimSuffix(base, "/") + "/metrics"
	return process{name: u, sample: func(ctx context.Context) (usage, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return usage{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return usage{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return usage{}, fmt.Errorf("GET %s: %s (give the server's pid with -pid instead)", u, resp.Status)
		}
		return parseMetrics(io.LimitReader(resp.Body, 16<<20), u)
	}}
}

// parseMetrics reads process_cpu_seconds_total and
// process_resident_memory_bytes from a Prometheus text exposition.
func parseMetrics(r io.Reader, where string) (usage, error) {
	const cpuName, rssName = "process_cpu_seconds_total", "process_resident_memory_bytes"
	v, err := metricValues(r, cpuName, rssName)
	if err != nil {
		return usage{}, fmt.Errorf("%s: %w", where, err)
	}
	cpu, haveCPU := v[cpuName]
	rss, haveRSS := v[rssName]
	if !haveCPU || !haveRSS {
		return usage{}, fmt.Errorf("%s has no %s or %s (METRICS_ADDR elsewhere? give -metrics-url or -pid)", where, cpuName, rssName)
	}
	return usage{cpu: time.Duration(cpu * float64(time.Second)), rss: int64(rss)}, nil
}

// metricValues reads the samples without labels of the named metrics
// from a Prometheus text exposition; a name absent is absent from the map.
func metricValues(r io.Reader, names ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v
	}
	return out, sc.Err()
}

// processUsage is what a run reports of one process.
type processUsage struct {
	Name string `json:"name"`
	// CPU is the process's CPU time over the measured window.
	CPU time.Duration `json:"cpu_ns"`
	// RSSBase is before the run's sockets opened, RSS at the window's end.
	RSSBase int64 `json:"rss_base_bytes"`
	RSS     int64 `json:"rss_bytes"`
}

func sampleAll(ctx context.Context, ps []process) ([]usage, error) {
	us := make([]usage, len(ps))
	for i, p := range ps {
		var err error
		if us[i], err = p.sample(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return us, nil
}
