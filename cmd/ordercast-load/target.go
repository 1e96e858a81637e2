package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// A target is the server under test: ordercast, or Centrifugo driven the
// same way so that the two can be compared.
type target interface {
	name() string
	// orderChannels prepares n order channels and, per channel, who may
	// subscribe to it (a small pool of users, reused across channels).
	orderChannels(ctx context.Context, n int) ([]channel, error)
	// broadcastChannel prepares one channel many may subscribe to, and a
	// pool of users who may.
	broadcastChannel(ctx context.Context) (channel, error)
	// dial opens a socket as id, on its user feed and on channel, and
	// returns once both are subscribed.
	dial(ctx context.Context, id identity, channel string) (*websocket.Conn, error)
	// read hands every message of conn to fn until ctx ends or the
	// socket fails, answering the target's keepalives.
	read(ctx context.Context, conn *websocket.Conn, fn func([]byte)) error
	// publish sends body (built by publishBody) through the server API of
	// the instance at base.
	publish(ctx context.Context, client *http.Client, base string, body []byte) error
	publishBody(buf []byte, channel string, data []byte, durable bool) []byte
}

// identity is a user as a target knows it: its id and a token for sockets.
type identity struct {
	id    string
	token string
}

type channel struct {
	name  string
	users []identity // subscriber k of the channel connects as users[k%len]
}

// httpDo sends a request and reads the answer, up to 1 MiB.
func httpDo(ctx context.Context, client *http.Client, method, url string, body []byte, header http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// newHTTPClient keeps up to conns connections to a host open, so that
// publishes in flight do not each open one; it drops them after 10 s
// idle, before ordercast's 15 s read timeout closes them under it.
func newHTTPClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = max(conns, 2)
	tr.IdleConnTimeout = 10 * time.Second
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// loadData is the payload of every publish of the tool: channel index,
// the channel's publish number (from 1) and the send time, as a short
// array that a reader finds without decoding the frame (the tool shares
// the machine with the server; encoding/json per delivery would cost the
// tool several times what the scan costs).
func loadData(buf []byte, ch int, n uint64, sent time.Time) []byte {
	buf = append(buf, `{"load":[`...)
	buf = strconv.AppendInt(buf, int64(ch), 10)
	buf = append(buf, ',')
	buf = strconv.AppendUint(buf, n, 10)
	buf = append(buf, ',')
	buf = strconv.AppendInt(buf, sent.UnixNano(), 10)
	return append(buf, "]}"...)
}

// loadDelivery is what a reader takes from a frame carrying loadData.
type loadDelivery struct {
	ch   int
	n    uint64
	sent int64 // unix nanoseconds
	seq  uint64
}

var (
	loadMark = []byte(`"load":[`)
	seqMark  = []byte(`"seq":`)
	dataMark = []byte(`"data":`)
)

// parseLoad finds loadData in a frame, and the frame's seq (an ordercast
// durable event's), which precedes its data.
func parseLoad(frame []byte) (loadDelivery, bool) {
	i := bytes.Index(frame, loadMark)
	if i < 0 {
		return loadDelivery{}, false
	}
	rest := frame[i+len(loadMark):]
	var f [3]uint64
	for k := range f {
		sep := byte(',')
		if k == len(f)-1 {
			sep = ']'
		}
		v, n, ok := leadingUint(rest)
		if !ok || n == len(rest) || rest[n] != sep {
			return loadDelivery{}, false
		}
		f[k], rest = v, rest[n+1:]
	}
	d := loadDelivery{ch: int(f[0]), n: f[1], sent: int64(f[2])}
	if j := bytes.Index(frame, dataMark); j > 0 {
		if k := bytes.Index(frame[:j], seqMark); k >= 0 {
			d.seq, _, _ = leadingUint(frame[k+len(seqMark) : j])
		}
	}
	return d, true
}

// leadingUint parses the decimal digits at the start of b.
func leadingUint(b []byte) (uint64, int, bool) {
	var v uint64
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' && n < 19 {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n, n > 0
}
