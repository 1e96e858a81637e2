package orders_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/wire"
)

// post posts text as a, failing the test unless a new message is stored.
func (e *env) post(a delivery.Actor, id delivery.ID, text string) delivery.Message {
	e.t.Helper()
	m, created, err := e.svc.PostMessage(e.t.Context(), a, id, delivery.MessageInput{Text: text, ClientMsgID: fmt.Sprintf("m%d", e.seq.Add(1))})
	if err != nil || !created {
		e.t.Fatalf("post %q as %s: created=%v, err=%v", text, a.Role, created, err)
	}
	return m
}

func TestPostMessageValidation(t *testing.T) {
	e := newEnv(t)
	o := e.place()
	e.outbox.take()
	tests := []struct {
		name  string
		in    delivery.MessageInput
		field string
	}{
		{"no text", delivery.MessageInput{Text: " \n ", ClientMsgID: "a"}, "text"},
		{"long text", delivery.MessageInput{Text: strings.Repeat("é", orders.MaxMessageText+1), ClientMsgID: "a"}, "text"},
		{"no id", delivery.MessageInput{Text: "hi"}, "client_msg_id"},
		{"spaced id", delivery.MessageInput{Text: "hi", ClientMsgID: " a"}, "client_msg_id"},
		{"long id", delivery.MessageInput{Text: "hi", ClientMsgID: strings.Repeat("a", orders.MaxClientMsgID+1)}, "client_msg_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.PostMessage(t.Context(), e.w.customer, o.ID, tt.in)
			wantField(t, err, delivery.EINVALID, tt.field)
			e.outbox.wantNone(t)
		})
	}
}

func TestPostMessageWho(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	e.outbox.take()
	for _, a := range []delivery.Actor{e.w.customer, e.w.staff, e.w.courier} {
		m := e.post(a, o.ID, "hello from "+string(a.Role))
		if m.OrderID != o.ID || m.AuthorID != a.UserID || m.AuthorRole != a.Role || m.Seq == 0 {
			t.Fatalf("message %+v", m)
		}
		c := e.outbox.takeOne(t)
		if c.ev.Type != delivery.EventChatMessage || c.ev.Seq != m.Seq || c.pubs[0].Channel != wire.OrderChannel(o.ID) {
			t.Fatalf("event %+v to %q: want chat.message at seq %d on the order", c.ev, channels(c.pubs), m.Seq)
		}
	}
	for _, a := range []delivery.Actor{e.w.customer2, e.w.staff2, e.w.courier2, e.w.admin} {
		_, _, err := e.svc.PostMessage(t.Context(), a, o.ID, delivery.MessageInput{Text: "hi", ClientMsgID: "x"})
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	_, _, err := e.svc.PostMessage(t.Context(), e.w.customer, 1<<40, delivery.MessageInput{Text: "hi", ClientMsgID: "x"})
	wantCode(t, err, delivery.ENOTFOUND)
	e.outbox.wantNone(t)
}

func TestPostMessageRetry(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	in := delivery.MessageInput{Text: "on my way", ClientMsgID: "c1"}
	first, created, err := e.svc.PostMessage(t.Context(), e.w.courier, o.ID, in)
	if err != nil || !created {
		t.Fatalf("first: created=%v, err=%v", created, err)
	}
	e.outbox.take()

	again, created, err := e.svc.PostMessage(t.Context(), e.w.courier, o.ID, in)
	must(t, err)
	if created || again != first {
		t.Fatalf("retry = %+v created=%v, want %+v created=false", again, created, first)
	}
	_, _, err = e.svc.PostMessage(t.Context(), e.w.courier, o.ID, delivery.MessageInput{Text: "almost there", ClientMsgID: "c1"})
	wantCode(t, err, delivery.EIDEMPOTENCY)
	_, _, err = e.svc.PostMessage(t.Context(), e.w.customer, o.ID, in)
	wantCode(t, err, delivery.EIDEMPOTENCY)
	e.outbox.wantNone(t)
}

// The chat closes delivery.ChatCloseAfter after the order ended, by the
// service's clock; a message stored before still gets its answer.
func TestPostMessageChatClosed(t *testing.T) {
	e := newEnv(t)
	o := e.place()
	kept := delivery.MessageInput{Text: "where is it?", ClientMsgID: "early"}
	_, _, err := e.svc.PostMessage(t.Context(), e.w.customer, o.ID, kept)
	must(t, err)
	o = e.setStatus(e.w.customer, o.ID, delivery.StatusCancelled)
	e.outbox.take()

	e.clock.Set(o.FinishedAt.Add(delivery.ChatCloseAfter - time.Millisecond))
	e.post(e.w.staff, o.ID, "sorry to see you go")
	e.outbox.takeOne(t)

	e.clock.Set(o.FinishedAt.Add(delivery.ChatCloseAfter))
	_, _, err = e.svc.PostMessage(t.Context(), e.w.customer, o.ID, delivery.MessageInput{Text: "late", ClientMsgID: "late"})
	wantCode(t, err, delivery.ECHATCLOSED)
	if _, created, err := e.svc.PostMessage(t.Context(), e.w.customer, o.ID, kept); err != nil || created {
		t.Fatalf("retry after close: created=%v, err=%v; want the stored message", created, err)
	}
	e.outbox.wantNone(t)
}

// Chat messages and positions spend per-user budgets of internal/limits.
func TestLimits(t *testing.T) {
	e := newEnvWith(t, func(cfg *orders.Config, c *clock) { cfg.Limits = limits.New(limits.Options{Now: c.Now}) })
	o := e.assigned()
	for range limits.Chat.Burst {
		e.post(e.w.customer, o.ID, "are you there?")
	}
	_, _, err := e.svc.PostMessage(t.Context(), e.w.customer, o.ID, delivery.MessageInput{Text: "hello?", ClientMsgID: "over"})
	wantCode(t, err, delivery.ERATELIMITED)
	e.post(e.w.staff, o.ID, "each user has a budget")
	e.clock.Add(time.Second / time.Duration(limits.Chat.Rate))
	e.post(e.w.customer, o.ID, "refilled")

	e.clock.Set(o.AssignedAt.Add(time.Second))
	for i := range limits.Positions.Burst {
		e.locate(e.w.courier, e.clock.Now().Add(time.Duration(i)*time.Millisecond))
	}
	_, err = e.svc.UpdateLocation(t.Context(), e.w.courier, position(e.clock.Now().Add(time.Second)))
	wantCode(t, err, delivery.ERATELIMITED)
}

func TestMarkRead(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	m := e.post(e.w.courier, o.ID, "at the door")
	e.pub.take()

	for _, seq := range []int64{0, -1} {
		_, _, err := e.svc.MarkRead(t.Context(), e.w.customer, o.ID, seq)
		wantField(t, err, delivery.EINVALID, "seq")
	}
	_, _, err := e.svc.MarkRead(t.Context(), e.w.customer, o.ID, m.Seq+1)
	wantField(t, err, delivery.EUNPROCESSABLE, "seq")
	for _, a := range []delivery.Actor{e.w.customer2, e.w.courier2, e.w.admin} {
		_, _, err := e.svc.MarkRead(t.Context(), a, o.ID, m.Seq)
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	e.pub.wantNone(t)

	r, moved, err := e.svc.MarkRead(t.Context(), e.w.customer, o.ID, m.Seq)
	must(t, err)
	want := delivery.ReadMark{OrderID: o.ID, UserID: e.w.customer.UserID, Role: delivery.RoleCustomer, Seq: m.Seq}
	if !moved || r != want {
		t.Fatalf("MarkRead = %+v moved=%v, want %+v moved", r, moved, want)
	}
	pubs := e.pub.take()
	wantChannels := []string{wire.OrderChannel(o.ID), wire.UserChannel(e.w.customer.UserID), wire.UserChannel(e.w.courier.UserID)}
	if got := channels(pubs); !slices.Equal(got, wantChannels) {
		t.Fatalf("chat.read went to %q, want %q", got, wantChannels)
	}
	for _, p := range pubs {
		var got delivery.ReadMark
		must(t, json.Unmarshal(p.Data, &got))
		if p.Event != delivery.EventChatRead || p.Seq != 0 || got != want {
			t.Fatalf("publication %+v (%+v): want an ephemeral chat.read of %+v", p, got, want)
		}
	}

	// A mark never goes back, and one that did not move is not published.
	for _, seq := range []int64{m.Seq, 1} {
		r, moved, err = e.svc.MarkRead(t.Context(), e.w.customer, o.ID, seq)
		must(t, err)
		if moved || r.Seq != m.Seq {
			t.Fatalf("MarkRead(%d) = %+v moved=%v, want the mark kept at %d", seq, r, moved, m.Seq)
		}
	}
	e.pub.wantNone(t)
}

// Without a courier, chat.read goes to the order and its customer's feed.
func TestMarkReadNoCourier(t *testing.T) {
	e := newEnv(t)
	o := e.place()
	_, moved, err := e.svc.MarkRead(t.Context(), e.w.staff, o.ID, o.Seq)
	if err != nil || !moved {
		t.Fatalf("MarkRead: moved=%v, err=%v", moved, err)
	}
	want := []string{wire.OrderChannel(o.ID), wire.UserChannel(e.w.customer.UserID)}
	if got := channels(e.pub.take()); !slices.Equal(got, want) {
		t.Fatalf("chat.read went to %q, want %q", got, want)
	}
}

func TestMessages(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	var seqs []int64
	for i := range 5 {
		seqs = append(seqs, e.post(e.w.customer, o.ID, fmt.Sprintf("message %d", i)).Seq)
	}
	var got []int64
	before := int64(0)
	for pages := 0; ; pages++ {
		if pages > len(seqs) {
			t.Fatalf("paging does not end: %v", got)
		}
		page, err := e.svc.Messages(t.Context(), e.w.staff, o.ID, before, 2)
		must(t, err)
		var onPage []int64
		for _, m := range page.Messages {
			onPage = append(onPage, m.Seq)
		}
		got = append(onPage, got...) // pages go back in time, each oldest first
		if page.NextBefore == nil {
			break
		}
		before = *page.NextBefore
	}
	if !slices.Equal(got, seqs) {
		t.Fatalf("pages gave seqs %v, want %v", got, seqs)
	}

	// Admins read what they may not write.
	if page, err := e.svc.Messages(t.Context(), e.w.admin, o.ID, 0, 0); err != nil || len(page.Messages) != len(seqs) || page.NextBefore != nil {
		t.Fatalf("admin: %+v, %v", page, err)
	}
	_, err := e.svc.Messages(t.Context(), e.w.courier2, o.ID, 0, 0)
	wantCode(t, err, delivery.EFORBIDDEN)
	_, err = e.svc.Messages(t.Context(), e.w.customer, o.ID, -1, 0)
	wantField(t, err, delivery.EINVALID, "before")
	for _, limit := range []int{-1, delivery.MaxPageLimit + 1} {
		_, err = e.svc.Messages(t.Context(), e.w.customer, o.ID, 0, limit)
		wantField(t, err, delivery.EINVALID, "limit")
	}
}

func TestMayType(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	e.pub.take() // the order's ETA
	p, err := e.svc.MayType(t.Context(), e.w.courier, o.ID)
	must(t, err)
	wantData := fmt.Sprintf(`{"order_id":"%s","user_id":"%s","role":"courier"}`, o.ID, e.w.courier.UserID)
	if p.Channel != wire.OrderChannel(o.ID) || p.Event != wire.EventChatTyping || p.Except != e.w.courier.UserID || string(p.Data) != wantData || p.Seq != 0 {
		t.Fatalf("MayType = %+v (%s), want chat.typing on the order except the sender, %s", p, p.Data, wantData)
	}
	e.pub.wantNone(t) // the hub publishes it

	for _, a := range []delivery.Actor{e.w.customer2, e.w.staff2, e.w.courier2, e.w.admin} {
		_, err := e.svc.MayType(t.Context(), a, o.ID)
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	o, err = e.svc.SetStatus(t.Context(), e.w.staff, o.ID, delivery.StatusCancelled, "out of flour", nil)
	must(t, err)
	e.clock.Set(o.FinishedAt.Add(delivery.ChatCloseAfter - time.Millisecond))
	_, err = e.svc.MayType(t.Context(), e.w.customer, o.ID)
	must(t, err)
	e.clock.Set(o.FinishedAt.Add(delivery.ChatCloseAfter))
	_, err = e.svc.MayType(t.Context(), e.w.customer, o.ID)
	wantCode(t, err, delivery.ECHATCLOSED)
}

// Unread counts others' messages above the reader's mark, for the chats
// the reader takes part in only.
func TestUnread(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	offered := e.accepted()
	e.post(e.w.customer, o.ID, "hi")
	m := e.post(e.w.staff, o.ID, "cooking")
	e.post(e.w.courier, o.ID, "on my way")
	e.post(e.w.customer, offered.ID, "anyone?")
	_, _, err := e.svc.MarkRead(t.Context(), e.w.customer, o.ID, m.Seq)
	must(t, err)
	list := []delivery.Order{o, offered}
	tests := []struct {
		a    delivery.Actor
		want map[delivery.ID]int
	}{
		{e.w.customer, map[delivery.ID]int{o.ID: 1}},
		{e.w.staff, map[delivery.ID]int{o.ID: 2, offered.ID: 1}},
		{e.w.courier, map[delivery.ID]int{o.ID: 2}}, // not the offered order's chat
		{e.w.admin, map[delivery.ID]int{}},
	}
	for _, tt := range tests {
		got, err := e.svc.Unread(t.Context(), tt.a, list)
		must(t, err)
		if !maps.Equal(got, tt.want) {
			t.Errorf("Unread as %s = %v, want %v", tt.a.Role, got, tt.want)
		}
	}
}
