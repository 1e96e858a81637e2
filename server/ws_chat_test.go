package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestWSChat: a chat frame is stored as the order's next event and
// reaches every party live with its seq, the sender included; the ack
// names the seq; a retry is stored once and acked with the same seq;
// the REST rules hold over the socket, and nobody else posts or sees.
func TestWSChat(t *testing.T) {
	e := newRealtimeEnv(t)
	w, other := e.newWorld(), e.newWorld()
	o := e.claimed(w) // seq 3
	order := wire.OrderChannel(o.ID)
	cust, staff, cour, stranger := e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier), e.dial(other.Customer)
	for _, c := range []*wsClient{cust, staff, cour} {
		c.subscribe(order)
	}

	if a := cust.ok(chatFrame(o, "  at the door \n", "m1")); a.Seq != 4 {
		t.Fatalf("ack %+v, want seq 4", a)
	}
	if a := cust.ok(chatFrame(o, "  at the door \n", "m1")); a.Seq != 4 {
		t.Fatalf("retry acked %+v, want the same seq 4", a)
	}
	if a := staff.ok(chatFrame(o, "coming down", "m2")); a.Seq != 5 {
		t.Fatalf("staff message: %+v, want seq 5", a)
	}
	cust.mustFail(delivery.EIDEMPOTENCY, chatFrame(o, "something else", "m1"))
	e.barrier(cust, staff, cour, stranger)

	for _, c := range []*wsClient{cust, staff, cour} {
		got := c.named(order, delivery.EventChatMessage)
		if !slices.Equal(seqs(got), []int64{4, 5}) {
			t.Fatalf("%s on %s: %s", c.name, order, dump(got))
		}
		var m delivery.Message
		if err := json.Unmarshal(got[0].Data, &m); err != nil || m.Text != "at the door" || m.AuthorID != w.Customer.User.ID || m.ClientMsgID != "m1" || m.Seq != 4 {
			t.Errorf("%s: message %s (%v)", c.name, got[0].Data, err)
		}
	}
	for _, c := range []struct {
		client *wsClient
		feed   delivery.ID
	}{{cust, w.Customer.User.ID}, {cour, w.Courier.User.ID}} {
		if got := seqs(c.client.named(wire.UserChannel(c.feed), delivery.EventChatMessage)); !slices.Equal(got, []int64{4, 5}) {
			t.Errorf("%s feed: %v", c.client.name, got)
		}
	}
	if got := stranger.allEvents(); len(got) != 0 {
		t.Errorf("stranger got %s", dump(got))
	}
	if page := e.history(o, w.Customer, ""); len(page.Messages) != 2 {
		t.Errorf("history has %d messages, want 2 (the retry stored once)", len(page.Messages))
	}

	// The REST rules, each a clear error frame; nothing stored.
	for _, tc := range []struct {
		client *wsClient
		f      map[string]any
		code   string
	}{
		{cust, chatFrame(o, " \t ", "m3"), delivery.EINVALID},
		{cust, chatFrame(o, strings.Repeat("é", 2001), "m3"), delivery.EINVALID},
		{cust, chatFrame(o, "hi", ""), delivery.EINVALID},
		{cust, chatFrame(o, "bell\x07", "m3"), delivery.EINVALID},
		{cust, map[string]any{"type": "chat", "order_id": o.ID, "text": 42, "client_msg_id": "m3"}, delivery.EINVALID},
		{stranger, chatFrame(o, "hi", "s1"), delivery.EFORBIDDEN},
		{stranger, chatFrame(delivery.Order{ID: o.ID + 1000}, "hi", "s1"), delivery.ENOTFOUND},
	} {
		tc.client.mustFail(tc.code, tc.f)
	}
	// Text not UTF-8 as sent is refused, not stored with U+FFFD: a lone
	// surrogate escape, and a raw invalid byte.
	for i, text := range []string{`bad \ud800 text`, "bad \xff text"} {
		id := fmt.Sprintf(`"utf%d"`, i)
		cust.send(`{"type":"chat","id":` + id + `,"order_id":"` + o.ID.String() + `","text":"` + text + `","client_msg_id":"u` + fmt.Sprint(i) + `"}`)
		got := cust.waitUntil("answer "+id, func(fs []frame) bool { return answerOf(fs, id) != nil })
		if a := answerOf(got, id); a.Code != delivery.EINVALID || !strings.HasPrefix(a.Message, "text:") {
			t.Errorf("%q answered %+v, want invalid naming text", text, a)
		}
	}
	if n := len(e.events(o, w.Customer)); n != 5 {
		t.Errorf("the log has %d events, want 5: refused frames store nothing", n)
	}
}

// TestWSChatClosed: an hour after the order ended, chat and typing frames
// are refused with chat_closed; the history stays readable.
func TestWSChatClosed(t *testing.T) {
	clock := newStepClock()
	e := newRealtimeEnv(t, withHubClock(clock))
	w := e.newWorld()
	o := e.claimed(w)
	cust := e.dial(w.Customer)
	e.deliver(o, w)
	cust.ok(chatFrame(o, "thanks!", "late"))
	clock.Advance(delivery.ChatCloseAfter + time.Minute) // the clock stood still while the order was delivered
	cust.mustFail(delivery.ECHATCLOSED, chatFrame(o, "one more thing", "later"))
	cust.mustFail(delivery.ECHATCLOSED, map[string]any{"type": "typing", "order_id": o.ID})
	if a := cust.ok(chatFrame(o, "thanks!", "late")); a.Seq != 8 {
		t.Errorf("a retry of a message stored before the close: %+v, want its seq 8", a)
	}
	if page := e.history(o, w.Customer, ""); len(page.Messages) != 1 {
		t.Errorf("history: %+v", page)
	}
}

// TestWSTyping: typing reaches the other parties on the order's channel,
// never the sender's own sockets, at most once per second per sender and
// order; only parties may send it.
func TestWSTyping(t *testing.T) {
	clock := newStepClock()
	e := newRealtimeEnv(t, withHubClock(clock))
	w, other := e.newWorld(), e.newWorld()
	o := e.claimed(w)
	order := wire.OrderChannel(o.ID)
	cust, cust2, staff, cour := e.dial(w.Customer), e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier)
	stranger := e.dial(other.Customer)
	for _, c := range []*wsClient{cust, cust2, staff, cour} {
		c.subscribe(order)
	}
	typing := map[string]any{"type": "typing", "order_id": o.ID}
	count := func(want map[*wsClient]int) {
		t.Helper()
		e.barrier(cust, cust2, staff, cour, stranger)
		for c, n := range want {
			if got := c.named(order, wire.EventChatTyping); len(got) != n {
				t.Errorf("%s: %d chat.typing, want %d: %s", c.name, len(got), n, dump(got))
			}
		}
		if got := stranger.allEvents(); len(got) != 0 {
			t.Errorf("stranger got %s", dump(got))
		}
	}

	cust.ok(typing)
	cust.ok(typing)  // within the second: coalesced
	cust2.ok(typing) // the same user on another socket: still coalesced
	count(map[*wsClient]int{cust: 0, cust2: 0, staff: 1, cour: 1})
	f := staff.named(order, wire.EventChatTyping)[0]
	want := fmt.Sprintf(`{"order_id":"%s","user_id":"%s","role":"customer"}`, o.ID, w.Customer.User.ID)
	if string(f.Data) != want || f.Seq != 0 || f.Ts == 0 {
		t.Errorf("chat.typing %s seq=%d ts=%d, want data %s, no seq", f.Data, f.Seq, f.Ts, want)
	}

	clock.Advance(time.Second)
	cust2.ok(typing) // a new second
	staff.ok(typing) // another sender has an interval of its own
	count(map[*wsClient]int{cust: 1, cust2: 1, staff: 2, cour: 3})
	if got := e.Hub.Stats().TypingCoalesced; got != 2 {
		t.Errorf("%d typing frames coalesced, want 2", got)
	}

	stranger.mustFail(delivery.EFORBIDDEN, typing)
	stranger.mustFail(delivery.ENOTFOUND, map[string]any{"type": "typing", "order_id": o.ID + 1000})
	count(map[*wsClient]int{cust: 1, cust2: 1, staff: 2, cour: 3})
}

// TestWSReadReceipts: a read frame raises the sender's mark; the others
// see chat.read on the order's channel (and on their feeds, for unread
// counts); a mark that does not move publishes nothing.
func TestWSReadReceipts(t *testing.T) {
	e := newRealtimeEnv(t)
	w, other := e.newWorld(), e.newWorld()
	o := e.claimed(w)
	order := wire.OrderChannel(o.ID)
	e.mustPost(o, w.Customer, "ring twice", "r1") // seq 4
	cust, staff, cour, stranger := e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier), e.dial(other.Customer)
	for _, c := range []*wsClient{cust, staff, cour} {
		c.subscribe(order)
	}
	read := func(seq int64) map[string]any { return map[string]any{"type": "read", "order_id": o.ID, "seq": seq} }

	staff.ok(read(4))
	staff.ok(read(3)) // lower: the mark stays, nothing published
	staff.ok(read(4)) // the same: nothing published
	e.barrier(cust, staff, cour, stranger)
	want := fmt.Sprintf(`{"order_id":"%s","user_id":"%s","role":"restaurant","seq":4}`, o.ID, w.Restaurant.User.ID)
	for _, c := range []*wsClient{cust, staff, cour} {
		got := c.named(order, delivery.EventChatRead)
		if len(got) != 1 || string(got[0].Data) != want || got[0].Seq != 0 {
			t.Errorf("%s on %s: %s, want one chat.read %s", c.name, order, dump(got), want)
		}
	}
	for _, c := range []struct {
		client *wsClient
		feed   delivery.ID
	}{{cust, w.Customer.User.ID}, {cour, w.Courier.User.ID}} {
		if got := c.client.named(wire.UserChannel(c.feed), delivery.EventChatRead); len(got) != 1 {
			t.Errorf("%s feed: %s", c.client.name, dump(got))
		}
	}
	if got := stranger.allEvents(); len(got) != 0 {
		t.Errorf("stranger got %s", dump(got))
	}
	var list struct {
		Orders []struct {
			ID     delivery.ID `json:"id"`
			Unread int         `json:"unread"`
		} `json:"orders"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/orders", w.Restaurant.Token, nil).decode(t, &list)
	if len(list.Orders) != 1 || list.Orders[0].Unread != 0 {
		t.Errorf("restaurant's list after reading: %+v", list.Orders)
	}

	cust.mustFail(delivery.EUNPROCESSABLE, read(99))
	cust.mustFail(delivery.EINVALID, read(0))
	stranger.mustFail(delivery.EFORBIDDEN, read(4))
}
