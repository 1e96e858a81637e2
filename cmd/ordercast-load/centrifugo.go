package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// centrifugo drives Centrifugo v6 the way the tool drives ordercast, for
// a side-by-side comparison: its JSON client protocol on
// /connection/websocket (a connect command carrying a connection JWT,
// HS256 with the server's client.token.hmac_secret_key, sub the user id;
// subscribe commands; publications arrive as pushes) and its server API,
// POST /api/publish with X-API-Key. Channels keep ordercast's names, so
// its configuration needs the namespaces order and user, and dispatch
// outside any namespace, open to client subscriptions (docs/performance.md).
type centrifugo struct {
	base   string
	secret []byte
	apiKey string
	users  int
	cmdID  atomic.Uint32 // ids of commands in flight on any socket; unique per socket is enough
}

func newCentrifugo(cfg config) *centrifugo {
	return &centrifugo{base: strings.TrimSuffix(cfg.url, "/"), secret: []byte(cfg.centrifugoSecret), apiKey: cfg.centrifugoAPIKey, users: cfg.users}
}

func (c *centrifugo) name() string { return "centrifugo" }

// identities are the run's users: Centrifugo has no accounts, a token
// names its user.
func (c *centrifugo) identities() []identity {
	ids := make([]identity, c.users)
	for i := range ids {
		id := "load-" + strconv.Itoa(i)
		ids[i] = identity{id: id, token: c.token(id)}
	}
	return ids
}

// token is a connection JWT for user, without expiry (a run is shorter
// than any sensible one, and an expiring token would need refreshing).
func (c *centrifugo) token(user string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": user, "iat": time.Now().Unix()})
	signed := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, c.secret)
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

func (c *centrifugo) orderChannels(_ context.Context, n int) ([]channel, error) {
	ids := c.identities()
	chs := make([]channel, n)
	for i := range chs {
		chs[i] = channel{name: "order:" + strconv.Itoa(i+1), users: []identity{ids[i%len(ids)]}}
	}
	return chs, nil
}

func (c *centrifugo) broadcastChannel(context.Context) (channel, error) {
	return channel{name: "dispatch", users: c.identities()}, nil
}

// cfReply is the part of a Centrifugo reply the tool reads.
type cfReply struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// dial connects as id and subscribes to the user's feed channel
// user:<id> (ordercast subscribes it by itself) and to channel, one
// command at a time, each answered before the next.
func (c *centrifugo) dial(ctx context.Context, id identity, channel string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.base, "http")+"/connection/websocket", nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("centrifugo handshake: %s: %w", resp.Status, err)
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	cmds := []string{`"connect":{"token":"` + id.token + `"}`, `"subscribe":{"channel":"user:` + id.id + `"}`}
	if channel != "" {
		cmds = append(cmds, `"subscribe":{"channel":"`+channel+`"}`)
	}
	for _, cmd := range cmds {
		if err := c.command(ctx, conn, cmd); err != nil {
			conn.CloseNow()
			return nil, err
		}
	}
	return conn, nil
}

// command sends one command and waits for its reply; pings before it are
// answered (a push cannot come before the subscribe is answered).
func (c *centrifugo) command(ctx context.Context, conn *websocket.Conn, cmd string) error {
	id := c.cmdID.Add(1)
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"id":`+strconv.FormatUint(uint64(id), 10)+","+cmd+"}")); err != nil {
		return err
	}
	return replies(ctx, conn, func(line []byte) (bool, error) {
		var r cfReply
		if err := json.Unmarshal(line, &r); err != nil {
			return false, fmt.Errorf("centrifugo: %w: %s", err, line)
		}
		if r.ID != id {
			return false, nil
		}
		if r.Error != nil {
			name, _, _ := strings.Cut(cmd[1:], `"`)
			return false, fmt.Errorf("centrifugo %s: error %d %s", name, r.Error.Code, r.Error.Message)
		}
		return true, nil
	})
}

// isCentrifugoPing: the server pings with an empty reply and disconnects
// a client that does not answer with an empty command (nor one that
// answers unasked).
func isCentrifugoPing(line []byte) bool { return string(line) == "{}" }

// read answers pings and hands over every other reply; one websocket
// message may carry several, one per line.
func (c *centrifugo) read(ctx context.Context, conn *websocket.Conn, fn func([]byte)) error {
	return replies(ctx, conn, func(line []byte) (bool, error) {
		fn(line)
		return false, nil
	})
}

// replies reads the server's replies, answering its pings, and hands each
// other one to fn until fn stops or fails, or the connection ends.
func replies(ctx context.Context, conn *websocket.Conn, fn func(line []byte) (stop bool, err error)) error {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		for line := range bytes.Lines(b) {
			line = bytes.TrimSpace(line)
			if !isCentrifugoPing(line) {
				if stop, err := fn(line); stop || err != nil {
					return err
				}
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, []byte("{}"))
			cancel()
			if err != nil {
				return err
			}
		}
	}
}

func (c *centrifugo) publish(ctx context.Context, client *http.Client, base string, body []byte) error {
	h := http.Header{"Content-Type": {"application/json"}, "X-Api-Key": {c.apiKey}}
	status, answer, err := httpDo(ctx, client, "POST", base+"/api/publish", body, h)
	if err != nil {
		return err
	}
	// Errors of the server API come with status 200 and an error object.
	var r struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if status != 200 || json.Unmarshal(answer, &r) != nil || r.Error != nil {
		return fmt.Errorf("centrifugo publish: %d %s", status, bytes.TrimSpace(answer))
	}
	return nil
}

func (c *centrifugo) publishBody(buf []byte, channel string, data []byte, _ bool) []byte {
	buf = append(buf, `{"channel":"`...)
	buf = append(buf, channel...)
	buf = append(buf, `","data":`...)
	buf = append(buf, data...)
	return append(buf, '}')
}
