package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/metrics/metricstest"
)

// The Grafana dashboard and the Prometheus rules in deploy/ use only
// series this program exports: every metric named in a panel's query or
// a rule's expression is one a running instance (with Redis, so the bus's
// are there too) serves at /metrics, or Prometheus's own up.
func TestDeployDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	exported := exportedSeries(t)

	var dash struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name, Type string
				Query      any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	readJSON(t, "../../deploy/grafana/ordercast-dashboard.json", &dash)
	hasDatasource := false
	for _, v := range dash.Templating.List {
		switch {
		case v.Type == "datasource" && v.Name == "datasource":
			hasDatasource = v.Query == "prometheus"
		case v.Type == "query":
			q, _ := v.Query.(map[string]any)["query"].(string)
			m := regexp.MustCompile(`^label_values\((\w+), *\w+\)$`).FindStringSubmatch(q)
			if m == nil || !exported[m[1]] {
				t.Errorf("variable %s: query %q names no exported metric", v.Name, q)
			}
		}
	}
	if !hasDatasource {
		t.Error("the dashboard has no Prometheus datasource variable named datasource")
	}
	exprs := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %q, %d targets", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, tg := range p.Targets {
			exprs++
			checkExpr(t, "panel "+p.Title, tg.Expr, exported)
		}
	}

	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.For == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: for %q, labels %v, annotations %v: want for, severity, summary and description", r.Alert, r.For, r.Labels, r.Annotations)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr, exported)
		}
	}
	want := []string{"OrdercastInstanceDown", "OrdercastRedisDown", "OrdercastOutboxLagging", "OrdercastSlowClosesRising", "Ordercast5xxRising"}
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
	t.Logf("%d panel queries and %d rules checked against %d exported series", exprs, len(alerts), len(exported))
}

type dashPanel struct {
	Type, Title string
	Datasource  struct{ UID string }
	Targets     []struct{ Expr string }
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
}

// exportedSeries are the series names a running instance serves: each
// counter's and gauge's name, a histogram's _bucket, _sum and _count, a
// summary's name, _sum and _count; and up. Requests first make the
// families that appear with their first sample (by route, by reason, by
// store method).
func exportedSeries(t *testing.T) map[string]bool {
	srv := redistest.StartServer(t)
	url, _ := startProgram(t, map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db"),
		"REDIS_URL": "redis://" + srv.Addr + "/0",
	})
	for _, path := range []string{"/healthz", "/readyz", "/ws"} { // /ws without an upgrade: a refusal
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	names := map[string]bool{"up": true}
	for name, f := range metricstest.Scrape(t, url+"/metrics") {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_sum"], names[name+"_count"] = true, true, true
		default:
			names[name] = true
		}
	}
	return names
}

// checkExpr fails the test unless expr's brackets balance, and it names
// at least one metric and only exported ones.
func checkExpr(t *testing.T, where, expr string, exported map[string]bool) {
	t.Helper()
	if !balanced(expr) {
		t.Errorf("%s: unbalanced brackets in %q", where, expr)
	}
	used := metricNames(expr)
	if len(used) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, name := range used {
		if !exported[name] {
			t.Errorf("%s: %s is not exported (in %q)", where, name, expr)
		}
	}
}

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	grafanaVars  = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// metricNames are the metric names a PromQL expression selects: what is
// left once strings, label matchers, ranges, grouping clauses, Grafana
// variables, numbers, keywords and function names (a word before a
// parenthesis) are taken out.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	s = grafanaVars.ReplaceAllString(s, " ")
	var names []string
	for i := 0; i < len(s); {
		c := s[i]
		if !isWordByte(c) {
			i++
			continue
		}
		j := i
		for j < len(s) && (isWordByte(s[j]) || s[j] == '.') {
			j++
		}
		word := s[i:j]
		next := strings.TrimLeft(s[j:], " \t\n")
		switch {
		case c >= '0' && c <= '9': // a number, or a duration
		case strings.HasPrefix(next, "("): // a function or an aggregation
		case slices.Contains(promKeywords, strings.ToLower(word)):
		default:
			names = append(names, word)
		}
		i = j
	}
	return names
}

// balanced reports whether the parentheses, ranges and label matchers
// of expr (outside its strings) close in order, matchers unnested.
func balanced(expr string) bool {
	var open []byte
	for _, c := range []byte(promStrings.ReplaceAllString(expr, `""`)) {
		switch c {
		case '(', '[', '{':
			if slices.Contains(open, '{') {
				return false
			}
			open = append(open, c)
		case ')', ']', '}':
			want := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(open) == 0 || open[len(open)-1] != want {
				return false
			}
			open = open[:len(open)-1]
		}
	}
	return len(open) == 0
}

func isWordByte(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func TestMetricNamesOfPromQL(t *testing.T) {
	for expr, want := range map[string][]string{
		`up{job="ordercast"} == 0`: {"up"},
		`histogram_quantile(0.99, sum by (le, op) (rate(x_bucket{instance=~"$instance"}[$__rate_interval])))`:                  {"x_bucket"},
		`sum by (instance) (rate(a_total{status=~"5..",route!="/readyz"}[5m])) / sum by (instance) (rate(a_total[5m])) > 0.02`: {"a_total", "a_total"},
		`a / on(instance) group_left(v) b offset 5m > 1e3 and bool c`:                                                          {"a", "b", "c"},
		`max(ordercast_outbox_lag_seconds{instance=~"${instance}"})`:                                                           {"ordercast_outbox_lag_seconds"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
	for expr, want := range map[string]bool{
		`sum(rate(a{b="c"}[5m]))`:        true,
		`sum(rate(a{b="c"},d="e"}[5m]))`: false,
		`sum(rate(a{b="}"}[5m]))`:        true,
		`sum(rate(a[5m])`:                false,
	} {
		if got := balanced(expr); got != want {
			t.Errorf("balanced(%s): %v, want %v", expr, got, want)
		}
	}
}
