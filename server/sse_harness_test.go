package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscriber is a test client of either transport, for the helpers that
// check what a client received (barrierOf, expectSeqs).
type subscriber interface {
	label() string
	waitUntil(what string, cond func([]frame) bool) []frame
	events(channel string) []frame
	received() []frame
}

// sseEvent is one event of a stream, as EventSource dispatches it.
type sseEvent struct {
	Event string // "message" when the stream named none
	ID    string // the last event id after this event
	Data  string // the data lines, joined with line feeds
}

// sseClient reads a stream in a goroutine: every event into events, the
// data of event frames also decoded into frames, and error events
// ({"channel","code"}) into frames of type "error".
type sseClient struct {
	t    testing.TB
	name string
	resp *http.Response
	stop context.CancelFunc

	mu       sync.Mutex
	sse      []sseEvent
	frames   []frame
	comments int
	closing  *sseClose // the close event, once it came
	err      error     // why the stream ended
	notify   chan struct{}
	done     chan struct{}
}

// sseClose is the data of a close event.
type sseClose struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// openSSE opens GET /sse?query as p, with the token in the query like a
// browser; headers are name, value pairs (Last-Event-ID). It fails the
// test unless the stream starts.
func (e *rtEnv) openSSE(p party, query string, headers ...string) *sseClient {
	e.t.Helper()
	return e.openSSEAs(p.User.Email, "/sse?access_token="+p.Token+"&"+query, headers...)
}

// openSSEAs opens the stream at path (token and all) for a client named
// name.
func (e *rtEnv) openSSEAs(name, path string, headers ...string) *sseClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	timer := time.AfterFunc(waitTimeout, cancel) // the head, not the stream
	resp, err := http.DefaultClient.Do(req)
	if err == nil && !timer.Stop() {
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		e.t.Fatalf("open stream %s: %v", name, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		e.t.Fatalf("open stream %s: %d %s", name, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{t: e.t, name: name, resp: resp, stop: cancel, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	e.t.Cleanup(c.cut)
	return c
}

// cut ends the stream from the client's side and waits for its reader.
func (c *sseClient) cut() {
	c.stop()
	<-c.done
}

func (c *sseClient) label() string { return c.name }

// read parses the stream as the HTML standard's event stream
// interpretation does: fields up to a blank line make an event, lines
// starting with ':' are comments.
func (c *sseClient) read() {
	defer close(c.done)
	defer c.resp.Body.Close()
	sc := bufio.NewScanner(c.resp.Body)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	var ev, data, id string
	var hasData bool
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData {
				c.dispatch(sseEvent{Event: ev, ID: id, Data: strings.TrimSuffix(data, "\n")})
			}
			ev, data, hasData = "", "", false
			continue
		}
		if strings.HasPrefix(line, ":") {
			c.mu.Lock()
			c.comments++
			c.mu.Unlock()
			c.signal()
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev = value
		case "data":
			data, hasData = data+value+"\n", true
		case "id":
			id = value
		}
	}
	c.mu.Lock()
	c.err = sc.Err()
	if c.err == nil {
		c.err = errStreamEnded
	}
	c.mu.Unlock()
	c.signal()
}

var errStreamEnded = errors.New("stream ended")

func (c *sseClient) dispatch(ev sseEvent) {
	if ev.Event == "" {
		ev.Event = "message"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.signal()
	c.sse = append(c.sse, ev)
	switch ev.Event {
	case "close":
		var cl sseClose
		if err := json.Unmarshal([]byte(ev.Data), &cl); err != nil {
			c.t.Errorf("%s: close event %q: %v", c.name, ev.Data, err)
		}
		c.closing = &cl
	case "error":
		var f frame
		if err := json.Unmarshal([]byte(ev.Data), &f); err != nil || f.Channel == "" || f.Code == "" {
			c.t.Errorf("%s: error event %q", c.name, ev.Data)
		}
		f.Type = "error"
		c.frames = append(c.frames, f)
	default:
		var f frame
		if err := json.Unmarshal([]byte(ev.Data), &f); err != nil || f.Type != "event" || f.Event != ev.Event {
			c.t.Errorf("%s: event %s carries %q, not its event frame", c.name, ev.Event, ev.Data)
		}
		c.frames = append(c.frames, f)
	}
}

func (c *sseClient) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// waitUntil waits until cond holds over the frames received so far.
func (c *sseClient) waitUntil(what string, cond func([]frame) bool) []frame {
	c.t.Helper()
	var frames []frame
	c.waitFor(what, func() bool {
		frames = append([]frame(nil), c.frames...)
		return cond(frames)
	})
	return frames
}

// waitFor waits until cond, called with c.mu held, holds; the stream
// ending first fails the test.
func (c *sseClient) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, ended := cond(), c.err
		dump := dump(c.frames)
		c.mu.Unlock()
		if ok {
			return
		}
		if ended != nil {
			c.t.Fatalf("%s: stream ended (%v) before %s; got %s", c.name, ended, what, dump)
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			c.t.Fatalf("%s: no %s within %v; got %s", c.name, what, waitTimeout, dump)
		}
	}
}

// received returns a copy of every frame received so far.
func (c *sseClient) received() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.frames...)
}

// events returns the event frames received on channel, barriers left out.
func (c *sseClient) events(channel string) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eventsLocked(channel)
}

// waitEvents waits until n events arrived on channel.
func (c *sseClient) waitEvents(channel string, n int) []frame {
	c.t.Helper()
	c.waitUntil("events on "+channel, func([]frame) bool { return len(c.eventsLocked(channel)) >= n })
	return c.events(channel)
}

func (c *sseClient) eventsLocked(channel string) []frame {
	var out []frame
	for _, f := range c.frames {
		if f.Type == "event" && f.Channel == channel && f.Event != barrierEvent {
			out = append(out, f)
		}
	}
	return out
}

// refusal waits for the error event of channel and returns its code.
func (c *sseClient) refusal(channel string) string {
	c.t.Helper()
	fs := c.waitUntil("error event for "+channel, func(fs []frame) bool { return errorOf(fs, channel) != nil })
	return errorOf(fs, channel).Code
}

func errorOf(frames []frame, channel string) *frame {
	for i := range frames {
		if frames[i].Type == "error" && frames[i].Channel == channel {
			return &frames[i]
		}
	}
	return nil
}

// lastID is the id a browser would send to resume: the newest one given.
func (c *sseClient) lastID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sse) == 0 {
		return ""
	}
	return c.sse[len(c.sse)-1].ID
}

// ids returns the id of every event named event.
func (c *sseClient) ids(event string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ev := range c.sse {
		if ev.Event == event {
			out = append(out, ev.ID)
		}
	}
	return out
}

// closed waits for the close event and the end of the stream after it.
func (c *sseClient) closed() sseClose {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: stream still open after %v", c.name, waitTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing == nil {
		c.t.Fatalf("%s: stream ended (%v) with no close event", c.name, c.err)
	}
	return *c.closing
}
