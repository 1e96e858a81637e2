package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// TestChatPartiesPostAndRead: each party posts; the message is stored
// trimmed, with its author, as the chat.message event of the order with
// the same seq and payload; every party reads the same history.
func TestChatPartiesPostAndRead(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		o := e.claimed(w) // seq 3
		m1 := e.mustPost(o, w.Customer, "  at the door  ", "c-1")
		m2 := e.mustPost(o, w.Restaurant, "on its way ✓", "r-1")
		m3 := e.mustPost(o, w.Courier, "two minutes\nleft", "d-1")
		want := []delivery.Message{m1, m2, m3}
		for i, tc := range []struct {
			p    party
			text string
		}{{w.Customer, "at the door"}, {w.Restaurant, "on its way ✓"}, {w.Courier, "two minutes\nleft"}} {
			m := want[i]
			if m.OrderID != o.ID || m.Seq != int64(4+i) || m.AuthorID != tc.p.User.ID || m.AuthorRole != tc.p.User.Role || m.Text != tc.text {
				t.Fatalf("message %d = %+v", i, m)
			}
		}
		var fromLog []delivery.Message
		for _, ev := range e.events(o, w.Customer) {
			if ev.Type == delivery.EventChatMessage {
				var m delivery.Message
				if err := json.Unmarshal(ev.Data, &m); err != nil || m.Seq != ev.Seq {
					t.Fatalf("event %d payload %s: %v", ev.Seq, ev.Data, err)
				}
				fromLog = append(fromLog, m)
			}
		}
		if !reflect.DeepEqual(fromLog, want) {
			t.Fatalf("chat.message events %+v\nwant %+v", fromLog, want)
		}
		for _, p := range []party{w.Customer, w.Restaurant, w.Courier, e.admin()} {
			if got := e.history(o, p, ""); !reflect.DeepEqual(got.Messages, want) || got.NextBefore != nil {
				t.Fatalf("history for %s: %+v", p.User.Role, got)
			}
		}
		var order delivery.Order
		e.must(200, "GET", orderPath(o.ID), w.Customer.Token, nil).decode(t, &order)
		if order.Seq != 6 || order.Status != delivery.StatusAccepted {
			t.Fatalf("order after chat: seq %d status %s, want seq 6 (the log's end)", order.Seq, order.Status)
		}
	})
}

// TestChatForbidden: nobody but the parties posts, reads or marks read,
// and a refusal carries no data and changes nothing. Admins read only.
func TestChatForbidden(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	strangers := e.newWorld()
	admin := e.admin()
	o := e.place(w)
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "") // offered: couriers may view it
	secret := e.mustPost(o, w.Customer, "the code is 4711", "c-1")
	before := e.events(o, w.Customer)

	outsiders := map[string]party{
		"other customer":              strangers.Customer,
		"other restaurant":            strangers.Restaurant,
		"courier viewing the offer":   w.Courier,
		"another courier":             strangers.Courier,
		"the same id in another role": {Token: strangers.Courier.Token},
	}
	path := orderPath(o.ID)
	for name, p := range outsiders {
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"POST", path + "/messages", map[string]any{"text": "hi", "client_msg_id": "c-1"}},
			{"POST", path + "/messages", map[string]any{"text": "hi", "client_msg_id": "x-1"}},
			{"GET", path + "/messages", nil},
			{"POST", path + "/read", map[string]any{"seq": 1}},
		} {
			r := e.do(req.method, req.path, p.Token, req.body)
			if r.Status != 403 || r.errorCode(t) != "forbidden" || strings.Contains(string(r.Body), "4711") {
				t.Errorf("%s %s %s: %d %s", name, req.method, req.path, r.Status, r.Body)
			}
		}
	}
	for _, req := range []string{"POST /messages", "GET /messages", "POST /read"} {
		method, suffix, _ := strings.Cut(req, " ")
		if r := e.do(method, path+suffix, "", map[string]any{"seq": 1}); r.Status != 401 {
			t.Errorf("anonymous %s: %d", req, r.Status)
		}
	}
	// Admins read every chat but take no part in it.
	if got := e.history(o, admin, ""); len(got.Messages) != 1 || got.Messages[0] != secret {
		t.Fatalf("admin history: %+v", got)
	}
	if r := e.post(o, admin, "hello", "a-1"); r.Status != 403 || r.errorCode(t) != "forbidden" {
		t.Fatalf("admin post: %d %s", r.Status, r.Body)
	}
	if r := e.do("POST", path+"/read", admin.Token, map[string]any{"seq": 1}); r.Status != 403 {
		t.Fatalf("admin read mark: %d %s", r.Status, r.Body)
	}
	if after := e.events(o, w.Customer); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused requests changed the log: %d events, had %d", len(after), len(before))
	}
	if r := e.post(delivery.Order{ID: 99999}, w.Customer, "hi", "c-9"); r.Status != 404 {
		t.Fatalf("unknown order: %d %s", r.Status, r.Body)
	}
	// Once claimed, the courier is a party.
	e.must(200, "POST", path+"/claim", w.Courier.Token, nil)
	e.mustPost(o, w.Courier, "on my way", "d-1")
}

// TestChatValidation: text trimmed, 1..2000 characters, valid UTF-8;
// client_msg_id 1..64 characters; each refusal names the field.
func TestChatValidation(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	long := strings.Repeat("ж", 2000)
	for i, ok := range []string{long, " \n" + long + "\t ", strings.Repeat("a", 2000), "\ufffd sent on purpose", `back\ufffdslash`} {
		if m := e.mustPost(o, w.Customer, ok, fmt.Sprintf("ok-%d", i)); m.Text != strings.TrimSpace(ok) {
			t.Fatalf("text %d stored as %q", i, m.Text)
		}
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"no text", `{"client_msg_id":"k"}`, "text"},
		{"empty", `{"text":"","client_msg_id":"k"}`, "text"},
		{"blank", `{"text":" \n\t ","client_msg_id":"k"}`, "text"},
		{"2001 characters", `{"text":"` + long + `ж","client_msg_id":"k"}`, "text"},
		{"2001 ascii", `{"text":"` + strings.Repeat("a", 2001) + `","client_msg_id":"k"}`, "text"},
		{"invalid UTF-8", "{\"text\":\"caf\xe9\",\"client_msg_id\":\"k\"}", "text"},
		{"lone surrogate", `{"text":"\ud800 x","client_msg_id":"k"}`, "text"},
		{"NUL", `{"text":"a\u0000b","client_msg_id":"k"}`, "text"},
		{"number", `{"text":5,"client_msg_id":"k"}`, "text"},
		{"no client_msg_id", `{"text":"hi"}`, "client_msg_id"},
		{"empty client_msg_id", `{"text":"hi","client_msg_id":""}`, "client_msg_id"},
		{"65 characters", `{"text":"hi","client_msg_id":"` + strings.Repeat("k", 65) + `"}`, "client_msg_id"},
		{"bad client_msg_id", "{\"text\":\"hi\",\"client_msg_id\":\"\xff\"}", "client_msg_id"},
		{"unknown field", `{"text":"hi","client_msg_id":"k","author_id":"1"}`, "author_id"},
	} {
		r := e.do("POST", orderPath(o.ID)+"/messages", w.Customer.Token, tc.body)
		if r.Status != 400 || r.errorCode(t) != "invalid" || !strings.Contains(string(r.Body), tc.field+":") {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Body, tc.field)
		}
	}
	e.mustPost(o, w.Customer, "64 is fine", strings.Repeat("ü", 64))
	if n := len(e.history(o, w.Customer, "").Messages); n != 6 {
		t.Fatalf("%d messages stored, want the 6 valid ones", n)
	}
}

// TestChatIdempotentRetry: a retry answers 201 with the stored message
// and appends nothing; 10 concurrent retries store one message; a
// client_msg_id reused for another text is refused.
func TestChatIdempotentRetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		o := e.place(w)
		first := e.mustPost(o, w.Customer, "ring twice", "c-1")
		r := e.post(o, w.Customer, " ring twice ", "c-1")
		var again delivery.Message
		r.decode(t, &again)
		if r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" || again != first {
			t.Fatalf("retry: %d %v %+v, want 201 replayed %+v", r.Status, r.Header, again, first)
		}
		for _, tc := range []struct {
			p    party
			text string
		}{{w.Customer, "ring three times"}, {w.Restaurant, "ring twice"}} {
			if r := e.post(o, tc.p, tc.text, "c-1"); r.Status != 422 || r.errorCode(t) != "idempotency_mismatch" {
				t.Fatalf("reused client_msg_id by %s: %d %s", tc.p.User.Role, r.Status, r.Body)
			}
		}

		const n = 10
		answers := make([]response, n)
		msgs := make([]delivery.Message, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i] = e.post(o, w.Restaurant, "ready soon", "race")
				_ = json.Unmarshal(answers[i].Body, &msgs[i])
			})
		}
		wg.Wait()
		created := 0
		for i, r := range answers {
			if r.Status != 201 {
				t.Fatalf("retry %d: status %d", i, r.Status)
			}
			if r.Header.Get("Idempotent-Replayed") != "true" {
				created++
			}
			if msgs[i] != msgs[0] {
				t.Fatalf("retry %d got %+v, retry 0 %+v", i, msgs[i], msgs[0])
			}
		}
		if created != 1 {
			t.Fatalf("%d of %d concurrent retries were not replays, want 1", created, n)
		}
		evs := e.events(o, w.Customer)
		if len(evs) != 3 || evs[2].Seq != 3 || evs[2].Type != delivery.EventChatMessage {
			t.Fatalf("log after retries: %d events, want order.created and two messages", len(evs))
		}
	})
}

// TestChatPagingAgreesWithEvents: paging backwards with ?before= yields
// exactly the chat.message events of the log, each page ascending.
func TestChatPagingAgreesWithEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		o := e.place(w)
		steps := []delivery.Status{delivery.StatusAccepted, delivery.StatusPreparing, delivery.StatusReady}
		for i := range 8 {
			e.mustPost(o, []party{w.Customer, w.Restaurant}[i%2], fmt.Sprintf("message %d", i), fmt.Sprintf("m-%d", i))
			if i%3 == 0 {
				e.setStatus(200, o, w.Restaurant, steps[i/3], "")
			}
		}
		var want []int64
		for _, ev := range e.events(o, w.Customer) {
			if ev.Type == delivery.EventChatMessage {
				want = append(want, ev.Seq)
			}
		}
		var got []int64
		query := "?limit=3"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			page := e.history(o, w.Restaurant, query)
			var seqs []int64
			for _, m := range page.Messages {
				seqs = append(seqs, m.Seq)
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Fatalf("page %v not ascending", seqs)
				}
			}
			got = append(seqs, got...)
			if page.NextBefore == nil {
				break
			}
			query = fmt.Sprintf("?limit=3&before=%d", *page.NextBefore)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("paged seqs %v, chat.message events %v", got, want)
		}
		if all := e.history(o, w.Customer, ""); len(all.Messages) != 8 || all.NextBefore != nil {
			t.Fatalf("default page: %d messages, next %v", len(all.Messages), all.NextBefore)
		}
		if older := e.history(o, w.Customer, fmt.Sprintf("?before=%d", want[2])); len(older.Messages) != 2 || older.Messages[1].Seq != want[1] {
			t.Fatalf("before=%d: %+v", want[2], older.Messages)
		}
		for _, q := range []string{"?before=-1", "?before=x", "?limit=201", "?limit=-1", "?limit=2.5"} {
			if r := e.do("GET", orderPath(o.ID)+"/messages"+q, w.Customer.Token, nil); r.Status != 400 {
				t.Errorf("messages%s: %d %s", q, r.Status, r.Body)
			}
		}
	})
}

// TestChatClosesAnHourAfterTheEnd: after delivery, rejection or
// cancellation the chat takes messages for an hour, then answers 422
// chat_closed; history stays readable and a retry still gets its answer.
func TestChatClosesAnHourAfterTheEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := &testClock{}
		e := newEnv(withClock(clock))
		w := e.newWorld()
		delivered := e.claimed(w)
		e.deliver(delivered, w)
		rejected := e.place(w)
		e.setStatus(200, rejected, w.Restaurant, delivery.StatusRejected, "closed")
		cancelled := e.place(w)
		e.setStatus(200, cancelled, w.Customer, delivery.StatusCancelled, "")
		open := e.place(w)

		clock.Advance(59 * time.Minute)
		kept := map[delivery.ID]delivery.Message{}
		for _, o := range []delivery.Order{delivered, rejected, cancelled} {
			kept[o.ID] = e.mustPost(o, w.Customer, "thanks", "late")
		}
		clock.Advance(time.Minute)
		for _, o := range []delivery.Order{delivered, rejected, cancelled} {
			for _, p := range []party{w.Customer, w.Restaurant} {
				if r := e.post(o, p, "one more thing", "too-late"); r.Status != 422 || r.errorCode(t) != "chat_closed" {
					t.Fatalf("order %s an hour after the end, %s: %d %s", o.ID, p.User.Role, r.Status, r.Body)
				}
			}
			if r := e.post(o, w.Customer, "thanks", "late"); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry of a stored message after closing: %d %s", r.Status, r.Body)
			}
			if h := e.history(o, w.Restaurant, ""); len(h.Messages) != 1 || h.Messages[0] != kept[o.ID] {
				t.Fatalf("history after closing: %+v", h)
			}
		}
		if r := e.post(delivered, w.Courier, "bye", "d-late"); r.Status != 422 {
			t.Fatalf("courier after closing: %d %s", r.Status, r.Body)
		}
		clock.Advance(24 * time.Hour)
		e.mustPost(open, w.Customer, "still waiting", "open") // only the end starts the hour
		var o delivery.Order
		e.must(200, "GET", orderPath(delivered.ID), w.Customer.Token, nil).decode(t, &o)
		if o.FinishedAt == nil {
			t.Fatalf("delivered order without finished_at: %+v", o)
		}
	})
}

// TestReadMarksAndUnread: unread counts per order in GET /orders follow
// the messages of others and the caller's read mark; the mark never
// moves back, and only a move is published as chat.read.
func TestReadMarksAndUnread(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		rec := &recorder{}
		e := newEnv(withRecorder(rec))
		w := e.newWorld()
		a := e.claimed(w)                           // seq 3
		b := e.place(w)                             // seq 1
		e.place(w)                                  // no messages: listed with unread 0
		e.mustPost(a, w.Customer, "hi", "a-1")      // 4
		e.mustPost(a, w.Restaurant, "hello", "a-2") // 5
		e.mustPost(a, w.Courier, "close", "a-3")    // 6
		e.mustPost(b, w.Restaurant, "sorry", "b-1") // 2

		unread := func(p party) map[delivery.ID]int {
			t.Helper()
			var list struct {
				Orders []struct {
					ID     delivery.ID `json:"id"`
					Unread *int        `json:"unread"`
				} `json:"orders"`
			}
			e.must(200, "GET", "/api/v1/orders", p.Token, nil).decode(t, &list)
			out := map[delivery.ID]int{}
			for _, o := range list.Orders {
				if o.Unread == nil {
					t.Fatalf("order %s listed without unread", o.ID)
				}
				if *o.Unread > 0 {
					out[o.ID] = *o.Unread
				}
			}
			return out
		}
		wantUnread := func(p party, want map[delivery.ID]int) {
			t.Helper()
			if got := unread(p); !reflect.DeepEqual(got, want) {
				t.Fatalf("unread of %s: %v, want %v", p.User.Role, got, want)
			}
		}
		wantUnread(w.Customer, map[delivery.ID]int{a.ID: 2, b.ID: 1})
		wantUnread(w.Restaurant, map[delivery.ID]int{a.ID: 2})
		wantUnread(w.Courier, map[delivery.ID]int{a.ID: 2})

		read := func(p party, o delivery.Order, seq int64, status int) (delivery.ReadMark, bool) {
			t.Helper()
			var body struct {
				Read  delivery.ReadMark `json:"read"`
				Moved bool              `json:"moved"`
			}
			r := e.must(status, "POST", orderPath(o.ID)+"/read", p.Token, map[string]any{"seq": seq})
			if status == 200 {
				r.decode(t, &body)
			}
			return body.Read, body.Moved
		}
		if m, moved := read(w.Customer, a, 5, 200); !moved || m.Seq != 5 || m.UserID != w.Customer.User.ID || m.Role != delivery.RoleCustomer || m.OrderID != a.ID {
			t.Fatalf("mark 5: %+v moved=%v", m, moved)
		}
		wantUnread(w.Customer, map[delivery.ID]int{a.ID: 1, b.ID: 1})
		if m, moved := read(w.Customer, a, 4, 200); moved || m.Seq != 5 {
			t.Fatalf("mark back to 4: %+v moved=%v, want 5 unmoved", m, moved)
		}
		if _, moved := read(w.Customer, a, 5, 200); moved {
			t.Fatal("the same mark again moved")
		}
		read(w.Customer, a, 6, 200)
		read(w.Customer, b, 2, 200)
		wantUnread(w.Customer, map[delivery.ID]int{})
		wantUnread(w.Restaurant, map[delivery.ID]int{a.ID: 2}) // marks are per user

		reads, _ := rec.take()
		if len(reads) != 3 || reads[0].Seq != 5 || reads[1].Seq != 6 || reads[2].OrderID != b.ID {
			t.Fatalf("published read marks %+v: want only the three moves", reads)
		}
		for _, tc := range []struct {
			body   any
			status int
			code   string
		}{
			{map[string]any{"seq": 7}, 422, "unprocessable"},
			{map[string]any{"seq": 0}, 400, "invalid"},
			{map[string]any{"seq": -3}, 400, "invalid"},
			{map[string]any{}, 400, "invalid"},
			{map[string]any{"seq": "x"}, 400, "invalid"},
		} {
			r := e.do("POST", orderPath(a.ID)+"/read", w.Customer.Token, tc.body)
			if r.Status != tc.status || r.errorCode(t) != tc.code || !strings.Contains(string(r.Body), "seq") {
				t.Errorf("read %v: %d %s", tc.body, r.Status, r.Body)
			}
		}
		if reads, _ := rec.take(); len(reads) != 0 {
			t.Fatalf("refused marks were published: %+v", reads)
		}
	})
}

// countingStore counts UnreadCounts calls, to prove one per listed page.
type countingStore struct {
	app.Store
	mu    sync.Mutex
	calls int
}

func (s *countingStore) UnreadCounts(ctx context.Context, userID delivery.ID, ids []delivery.ID) (map[delivery.ID]int, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.Store.UnreadCounts(ctx, userID, ids)
}

// TestUnreadOneQueryPerPage: listing a page of many orders asks the store
// for unread counts once; a courier's offered (not yet theirs) orders are
// not counted at all.
func TestUnreadOneQueryPerPage(t *testing.T) {
	cs := &countingStore{Store: sqlite.OpenTest(t)}
	e := newTestEnvOn(t, cs)
	w := e.newWorld()
	for i := range 12 {
		o := e.place(w)
		e.mustPost(o, w.Restaurant, "hi", fmt.Sprintf("m-%d", i))
		if i < 2 {
			e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
		}
	}
	cs.mu.Lock()
	cs.calls = 0
	cs.mu.Unlock()
	var list struct {
		Orders []struct {
			Unread int `json:"unread"`
		} `json:"orders"`
	}
	calls := func() int {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		return cs.calls
	}
	e.must(200, "GET", "/api/v1/orders?limit=10", w.Customer.Token, nil).decode(t, &list)
	if len(list.Orders) != 10 || calls() != 1 {
		t.Fatalf("%d orders with %d UnreadCounts calls, want 10 with 1", len(list.Orders), calls())
	}
	for _, o := range list.Orders {
		if o.Unread != 1 {
			t.Fatalf("unread %d, want 1", o.Unread)
		}
	}
	var offers struct {
		Orders []map[string]any `json:"orders"`
	}
	e.must(200, "GET", "/api/v1/orders", w.Courier.Token, nil).decode(t, &offers)
	if len(offers.Orders) != 2 || offers.Orders[0]["unread"] != nil || calls() != 1 {
		t.Fatalf("courier sees %+v after %d calls: offered orders are not theirs to count", offers.Orders, calls())
	}
}
