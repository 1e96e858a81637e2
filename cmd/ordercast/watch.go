package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// dialTimeout bounds the handshake: a server that accepts the connection
// and says nothing must not hang a script.
const dialTimeout = 15 * time.Second

// watchUsage is printed by -h and on a bad command line.
const watchUsage = `usage: ordercast watch [-url http://localhost:8080] [-since N] [-n COUNT] CHANNEL

Subscribes to CHANNEL (order:42, user:7, restaurant:3, dispatch) over the
websocket and prints each event frame as one JSON line. The access token
comes from $ORDERCAST_TOKEN (never a flag: flags show in ps).
`

const (
	// watchWriteTimeout bounds the subscribe frame.
	watchWriteTimeout = 10 * time.Second
	// watchPingInterval and watchPingTimeout find a dead server or network
	// while no event comes: a watch may legitimately wait for hours.
	watchPingInterval = 20 * time.Second
	watchPingTimeout  = 10 * time.Second
	// watchReadLimit is above the largest server frame (the hub refuses
	// client frames over 16 KiB, but an order event may be larger).
	watchReadLimit = 1 << 20
)

// watchMain is `ordercast watch`: it prints CHANNEL's events until COUNT
// of them were printed (-n; 0 is no limit) or ctx ends, which is a clean
// exit. Errors name what went wrong: a refused handshake, a refused
// subscription, a closed connection.
func watchMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), watchUsage); fs.PrintDefaults() }
	base := fs.String("url", "http://localhost:8080", "the server's base URL")
	since := fs.Int64("since", 0, "replay the order channel's durable events after this seq first")
	count := fs.Int("n", 0, "exit after this many events (0: run until interrupted)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h: the usage is the answer
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CHANNEL")
	}
	channel := fs.Arg(0)
	sinceSet := false
	fs.Visit(func(f *flag.Flag) { sinceSet = sinceSet || f.Name == "since" })
	if *count < 0 {
		return errors.New("-n must be 0 or more")
	}
	token := os.Getenv("ORDERCAST_TOKEN")
	if token == "" {
		return errors.New("ORDERCAST_TOKEN is not set (an access token, as from POST /api/v1/auth/login)")
	}
	wsURL, err := websocketURL(*base)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dialCtx, cancelDial := context.WithTimeout(ctx, dialTimeout)
	conn, resp, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	cancelDial()
	if err != nil {
		if resp != nil {
			return handshakeError(resp)
		}
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect to %s: %w", wsURL, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(watchReadLimit)

	sub := map[string]any{"type": "subscribe", "id": "1", "channel": channel}
	if sinceSet {
		sub["since"] = *since
	}
	if err := writeFrame(ctx, conn, sub); err != nil {
		return watchClosed(ctx, err)
	}

	pingDone := make(chan struct{})
	defer func() { cancel(); <-pingDone }()
	go func() {
		defer close(pingDone)
		keepAlive(ctx, conn)
	}()

	printed := 0
	for *count == 0 || printed < *count {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return watchClosed(ctx, err)
		}
		var f struct {
			Type    string          `json:"type"`
			ID      json.RawMessage `json:"id"`
			Channel string          `json:"channel"`
			Code    string          `json:"code"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("the server sent a frame that is not JSON: %.80q", b)
		}
		switch f.Type {
		case "ack":
			if string(f.ID) == `"1"` {
				fmt.Fprintf(stderr, "subscribed to %s\n", channel)
			}
		case "error":
			if string(f.ID) == `"1"` {
				return fmt.Errorf("subscribe %s refused: %s: %s", channel, f.Code, f.Message)
			}
			return fmt.Errorf("the server answered an error: %s: %s", f.Code, f.Message)
		case "unsubscribed":
			if f.Channel == channel {
				return fmt.Errorf("the server ended the subscription to %s: %s", channel, f.Code)
			}
		case "event":
			// The socket also carries the user's own feed; print only
			// the channel asked for.
			if f.Channel != channel {
				continue
			}
			if _, err := fmt.Fprintf(stdout, "%s\n", strings.TrimSpace(string(b))); err != nil {
				return err
			}
			printed++
		}
	}
	_ = conn.Close(websocket.StatusNormalClosure, "") // the library bounds the close handshake (5 s + 5 s)
	return nil
}

// websocketURL turns the server's base URL into its /ws URL.
func websocketURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("-url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("-url: want http:// or https://, got %q", base)
	}
	if u.Host == "" {
		return "", fmt.Errorf("-url: no host in %q", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	return u.String(), nil
}

// handshakeError reads the server's JSON error body of a refused upgrade.
func handshakeError(resp *http.Response) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body) // the library keeps the first KiB of it
	if json.Unmarshal(b, &body) != nil || body.Error.Code == "" {
		return fmt.Errorf("handshake refused: %s", resp.Status)
	}
	return fmt.Errorf("handshake refused (%d %s): %s", resp.StatusCode, body.Error.Code, body.Error.Message)
}

func writeFrame(ctx context.Context, conn *websocket.Conn, frame any) error {
	b, err := json.Marshal(frame)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, watchWriteTimeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, b)
}

// keepAlive pings the server until ctx ends; a ping left unanswered
// closes the connection, so that the watch's read fails.
func keepAlive(ctx context.Context, conn *websocket.Conn) {
	tick := time.NewTicker(watchPingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pingCtx, cancelPing := context.WithTimeout(ctx, watchPingTimeout)
		err := conn.Ping(pingCtx)
		cancelPing()
		if err != nil {
			if ctx.Err() == nil {
				conn.CloseNow()
			}
			return
		}
	}
}

// closeReasons says what the server's close codes mean (see docs/protocol.md).
var closeReasons = map[websocket.StatusCode]string{
	4001:                            "the access token expired or is invalid: sign in again and set ORDERCAST_TOKEN",
	4003:                            "forbidden",
	4008:                            "too many frames",
	4009:                            "too slow to keep up",
	websocket.StatusMessageTooBig:   "frame too large",
	websocket.StatusInternalError:   "the server could not repair a gap: run again with -since",
	websocket.StatusServiceRestart:  "the server is restarting: run again with -since",
	websocket.StatusNormalClosure:   "closed by the server",
	websocket.StatusGoingAway:       "the server is going away",
	websocket.StatusPolicyViolation: "policy violation",
}

// watchClosed explains why the connection ended; ctx ending is no error.
func watchClosed(ctx context.Context, err error) error {
	if ctx.Err() != nil && websocket.CloseStatus(err) == -1 {
		return nil
	}
	if code := websocket.CloseStatus(err); code != -1 {
		reason, ok := closeReasons[code]
		if !ok {
			reason = "closed by the server"
		}
		return fmt.Errorf("connection closed (%d): %s", code, reason)
	}
	return fmt.Errorf("connection lost: %w", err)
}
