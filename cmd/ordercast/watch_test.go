package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// notifyingBuffer is a writer the test reads while watchMain writes to
// it; every write wakes waitFor.
type notifyingBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newNotifyingBuffer() *notifyingBuffer {
	return &notifyingBuffer{wrote: make(chan struct{}, 1)}
}

func (b *notifyingBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *notifyingBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor returns once the buffer contains s, or fails the test after 10 s.
func (b *notifyingBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !strings.Contains(b.String(), s) {
		select {
		case <-b.wrote:
		case <-deadline.C:
			t.Fatalf("no %q within 10s; got %q", s, b.String())
		}
	}
}

// request sends one REST request with token (when not empty) and returns
// its status and body.
func request(t *testing.T, base, token, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// apiCall is request for a call that must succeed: an answer outside 2xx
// fails the test.
func apiCall(t *testing.T, base, token, method, path, body string, header ...string) []byte {
	t.Helper()
	status, b := request(t, base, token, method, path, body, header...)
	if status/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	return b
}

// register signs up a user and returns its access token.
func register(t *testing.T, base, email, role, extra string) string {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":"long enough pw","name":"N","role":%q%s}`, email, role, extra)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(apiCall(t, base, "", "POST", "/auth/register", body), &out); err != nil {
		t.Fatal(err)
	}
	return out.AccessToken
}

// placedOrder registers a restaurant with one item and a customer who
// orders it; it returns the order's id and both tokens.
func placedOrder(t *testing.T, base string) (orderID, restaurant, customer string) {
	t.Helper()
	restaurant = register(t, base, "chef@example.com", "restaurant", `,"restaurant_name":"Luigi"`)
	customer = register(t, base, "ann@example.com", "customer", "")
	var me struct {
		RestaurantID string `json:"restaurant_id"`
	}
	if err := json.Unmarshal(apiCall(t, base, restaurant, "GET", "/me", ""), &me); err != nil {
		t.Fatal(err)
	}
	var item, order struct {
		ID string `json:"id"`
	}
	b := apiCall(t, base, restaurant, "POST", "/restaurants/"+me.RestaurantID+"/menu", `{"name":"Margherita","price_cents":1250}`)
	if err := json.Unmarshal(b, &item); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"restaurant_id":%q,"items":[{"menu_item_id":%q,"quantity":2}],"delivery_address":"1 Main St"}`, me.RestaurantID, item.ID)
	if err := json.Unmarshal(apiCall(t, base, customer, "POST", "/orders", body, "Idempotency-Key", "k1"), &order); err != nil {
		t.Fatal(err)
	}
	return order.ID, restaurant, customer
}

func startWatchTestProgram(t *testing.T) string {
	t.Helper()
	base, _ := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db")})
	return base
}

// watchResult is what one watchMain run printed and returned.
type watchResult struct {
	stdout, stderr *notifyingBuffer
	done           chan error
}

func startWatch(ctx context.Context, args ...string) watchResult {
	w := watchResult{stdout: newNotifyingBuffer(), stderr: newNotifyingBuffer(), done: make(chan error, 1)}
	go func() { w.done <- watchMain(ctx, args, w.stdout, w.stderr) }()
	return w
}

// wait returns watchMain's error, failing the test if it runs on for 10 s.
func (w watchResult) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("watch still running after 10s; printed %q, stderr %q", w.stdout.String(), w.stderr.String())
		return nil
	}
}

type printedEvent struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Event   string `json:"event"`
	Seq     int64  `json:"seq"`
	Data    struct {
		Status string `json:"status"`
	} `json:"data"`
}

// printedEvents parses watch's output: one JSON event frame per line.
func printedEvents(t *testing.T, out string) []printedEvent {
	t.Helper()
	var events []printedEvent
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var e printedEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q is not one JSON frame: %v", line, err)
		}
		events = append(events, e)
	}
	return events
}

func TestWatchPrintsAnOrdersEventsLiveAndReplayed(t *testing.T) {
	base := startWatchTestProgram(t)
	orderID, restaurant, customer := placedOrder(t, base)
	t.Setenv("ORDERCAST_TOKEN", customer)
	channel := "order:" + orderID

	// Live: subscribed first, then two status changes committed over REST;
	// the accept makes the order's first ETA (preparing does not move it).
	live := startWatch(t.Context(), "-url", base, "-n", "3", channel)
	live.stderr.waitFor(t, "subscribed to "+channel)
	apiCall(t, base, restaurant, "POST", "/orders/"+orderID+"/status", `{"status":"accepted"}`)
	apiCall(t, base, restaurant, "POST", "/orders/"+orderID+"/status", `{"status":"preparing"}`)
	if err := live.wait(t); err != nil {
		t.Fatalf("watch -n 3: %v", err)
	}
	got := printedEvents(t, live.stdout.String())
	if len(got) != 3 || got[0].Seq != 2 || got[0].Data.Status != "accepted" || got[1].Event != "order.eta" || got[1].Seq != 0 ||
		got[2].Seq != 3 || got[2].Data.Status != "preparing" {
		t.Fatalf("live watch printed %+v, want order.status accepted (seq 2), its order.eta, then preparing (seq 3)", got)
	}
	for _, e := range []printedEvent{got[0], got[2]} {
		if e.Type != "event" || e.Channel != channel || e.Event != "order.status" {
			t.Errorf("printed %+v, want an order.status event frame of %s", e, channel)
		}
	}

	// Replayed: -since 0 prints the whole log, the placement first.
	replay := startWatch(t.Context(), "-url", base, "-since", "0", "-n", "3", channel)
	if err := replay.wait(t); err != nil {
		t.Fatalf("watch -since 0: %v", err)
	}
	got = printedEvents(t, replay.stdout.String())
	if len(got) != 3 || got[0].Event != "order.created" || got[0].Seq != 1 || got[1].Seq != 2 || got[2].Seq != 3 {
		t.Fatalf("replay printed %+v, want seqs 1 (order.created), 2, 3", got)
	}

	// Without -n it runs until its context ends, which is a clean exit.
	ctx, cancel := context.WithCancel(t.Context())
	open := startWatch(ctx, "-url", base, channel)
	open.stderr.waitFor(t, "subscribed to "+channel)
	cancel()
	if err := open.wait(t); err != nil {
		t.Fatalf("watch ended by its context: %v", err)
	}
}

func TestWatchErrorsSayWhatWentWrong(t *testing.T) {
	base := startWatchTestProgram(t)
	orderID, _, _ := placedOrder(t, base)
	stranger := register(t, base, "eve@example.com", "customer", "")

	for _, tc := range []struct {
		name, token string
		want        string
	}{
		{"no token", "", "ORDERCAST_TOKEN is not set"},
		{"bad token", "not-a-token", "handshake refused (401 unauthorized)"},
		{"not a party", stranger, "subscribe order:" + orderID + " refused: forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ORDERCAST_TOKEN", tc.token)
			w := startWatch(t.Context(), "-url", base, "-n", "1", "order:"+orderID)
			err := w.wait(t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			t.Log(err)
			if out := w.stdout.String(); out != "" {
				t.Errorf("printed %q on a failed watch", out)
			}
		})
	}
}
