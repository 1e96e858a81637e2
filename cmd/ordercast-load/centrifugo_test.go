package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeCentrifugo speaks as much of Centrifugo v6's JSON protocol as the
// tool uses, strictly: the connect command first with a valid HS256 token,
// a ping before every reply that must be answered with an empty command
// (and no empty command unasked), pushes two to a message.
type fakeCentrifugo struct {
	secret []byte
	mu     sync.Mutex
	subs   map[string][]*websocket.Conn
	wmu    map[*websocket.Conn]*sync.Mutex
}

func (f *fakeCentrifugo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/connection/websocket":
		f.serveSocket(w, r)
	case "/api/publish":
		if r.Header.Get("X-API-Key") != "api-key" {
			w.Write([]byte(`{"error":{"code":101,"message":"unauthorized"}}`))
			return
		}
		var req struct {
			Channel string          `json:"channel"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		push, _ := json.Marshal(map[string]any{"push": map[string]any{"channel": req.Channel, "pub": map[string]any{"data": req.Data}}})
		f.mu.Lock()
		conns := f.subs[req.Channel]
		f.mu.Unlock()
		for _, c := range conns {
			f.write(c, []byte(`{"push":{"channel":"other","pub":{"data":{}}}}`+"\n"+string(push)))
		}
		w.Write([]byte(`{"result":{}}`))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeCentrifugo) write(c *websocket.Conn, b []byte) {
	f.mu.Lock()
	m := f.wmu[c]
	f.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Write(ctx, websocket.MessageText, b)
}

func (f *fakeCentrifugo) serveSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	f.mu.Lock()
	f.wmu[c] = &sync.Mutex{}
	f.mu.Unlock()
	ctx := r.Context()
	user := ""
	pinged := false
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if string(b) == "{}" {
			if !pinged {
				c.Close(3501, "unnecessary pong")
				return
			}
			pinged = false
			continue
		}
		var cmd struct {
			ID      uint32 `json:"id"`
			Connect *struct {
				Token string `json:"token"`
			} `json:"connect"`
			Subscribe *struct {
				Channel string `json:"channel"`
			} `json:"subscribe"`
		}
		if err := json.Unmarshal(b, &cmd); err != nil || cmd.ID == 0 {
			c.Close(3501, "bad request")
			return
		}
		var reply string
		switch {
		case cmd.Connect != nil && user == "":
			if user = f.verify(cmd.Connect.Token); user == "" {
				c.Close(3500, "invalid token")
				return
			}
			reply = `{"connect":{"client":"c1","version":"6.9.1","ping":25,"pong":true}}`
		case cmd.Subscribe != nil && user != "":
			ch := cmd.Subscribe.Channel
			if strings.HasPrefix(ch, "user:") && ch != "user:"+user {
				reply = `{"error":{"code":103,"message":"permission denied"}}`
				break
			}
			f.mu.Lock()
			f.subs[ch] = append(f.subs[ch], c)
			f.mu.Unlock()
			reply = `{"subscribe":{}}`
		default:
			c.Close(3501, "bad request")
			return
		}
		pinged = true
		f.write(c, []byte("{}"))
		f.write(c, []byte(`{"id":`+jsonNumber(cmd.ID)+","+reply[1:]))
	}
}

func jsonNumber(id uint32) string { b, _ := json.Marshal(id); return string(b) }

// verify checks an HS256 token and returns its sub.
func (f *fakeCentrifugo) verify(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	mac := hmac.New(sha256.New, f.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) || !bytes.Contains(header, []byte(`"HS256"`)) {
		return ""
	}
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	json.Unmarshal(claims, &c)
	return c.Sub
}

func TestCentrifugoTargetAgainstAFake(t *testing.T) {
	fake := &fakeCentrifugo{secret: []byte("secret"), subs: map[string][]*websocket.Conn{}, wmu: map[*websocket.Conn]*sync.Mutex{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := config{target: "centrifugo", scenario: "orders", url: srv.URL, centrifugoSecret: "secret", centrifugoAPIKey: "api-key",
		users: 3, channels: 4, subscribers: 2, rate: 200, inflight: 4, duration: 500 * time.Millisecond, warmUp: 200 * time.Millisecond,
		drain: 5 * time.Second, setupConcurrency: 4, dialConcurrency: 4, metricsURL: []string{"unused"}}
	cfg.pids = []int{os.Getpid()}
	res, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deliveries
	if res.Connections != 8 || res.Publishes.Acked == 0 || res.Publishes.Failed != 0 || d.Expected != 2*res.Publishes.Acked ||
		d.Lost != 0 || d.Duplicates != 0 || d.InWindow == 0 || len(res.Problems) != 0 {
		t.Fatalf("%+v %+v %+v", res, res.Publishes, d)
	}

	cfg.centrifugoAPIKey = "wrong"
	if res, err := run(t.Context(), cfg); err != nil || res.Publishes.Acked != 0 || !strings.Contains(res.Publishes.LastError, "unauthorized") {
		t.Fatalf("a refused publish: %v %+v", err, res.Publishes)
	}
}
