package server_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestClusterChat: two instances on one PostgreSQL and Redis, the
// parties' sockets spread over them. A chat frame reaches every party on
// both instances with its seq, and its retry through the other instance
// is stored once with the same seq; typing reaches the other parties on
// both instances but never the sender's sockets on either; read
// receipts cross too; an outsider sees nothing.
func TestClusterChat(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.start(0, instanceOpts{}), c.start(1, instanceOpts{})
	w, other := a.newWorld(), a.newWorld()
	o := a.claimed(w) // seq 3
	order := orderChannel(o)
	cust, cust2 := a.dial(w.Customer), b.dial(w.Customer)
	staff, cour, stranger := b.dial(w.Restaurant), a.dial(w.Courier), b.dial(other.Customer)
	parties := []*wsClient{cust, cust2, staff, cour}
	for _, cl := range parties {
		cl.subscribe(order)
	}
	everyone := append(slices.Clone(parties), stranger)

	if ack := cust.ok(chatFrame(o, "at the door", "c1")); ack.Seq != 4 {
		t.Fatalf("ack %+v, want seq 4", ack)
	}
	if ack := cust2.ok(chatFrame(o, "at the door", "c1")); ack.Seq != 4 {
		t.Fatalf("retry through the other instance: %+v, want seq 4", ack)
	}
	if ack := staff.ok(chatFrame(o, "coming", "s1")); ack.Seq != 5 {
		t.Fatalf("ack %+v, want seq 5", ack)
	}
	for _, cl := range parties {
		cl.waitNamed(order, delivery.EventChatMessage, 2)
	}
	a.barrier(everyone...)
	b.barrier(everyone...)
	for _, cl := range parties {
		if got := seqs(cl.named(order, delivery.EventChatMessage)); !slices.Equal(got, []int64{4, 5}) {
			t.Errorf("%s: chat seqs %v, want [4 5] once each", cl.name, got)
		}
	}

	typing := map[string]any{"type": "typing", "order_id": o.ID}
	cust.ok(typing)
	cust.ok(typing) // coalesced
	staff.ok(typing)
	staff.waitNamed(order, wire.EventChatTyping, 1)
	cour.waitNamed(order, wire.EventChatTyping, 2)
	cust.waitNamed(order, wire.EventChatTyping, 1)
	cust2.waitNamed(order, wire.EventChatTyping, 1)
	a.barrier(everyone...)
	b.barrier(everyone...)
	from := func(cl *wsClient) []string {
		var out []string
		for _, f := range cl.named(order, wire.EventChatTyping) {
			out = append(out, string(f.Data))
		}
		return out
	}
	custTyping := fmt.Sprintf(`{"order_id":"%s","user_id":"%s","role":"customer"}`, o.ID, w.Customer.User.ID)
	staffTyping := fmt.Sprintf(`{"order_id":"%s","user_id":"%s","role":"restaurant"}`, o.ID, w.Restaurant.User.ID)
	for cl, want := range map[*wsClient][]string{
		cust: {staffTyping}, cust2: {staffTyping}, staff: {custTyping}, cour: {custTyping, staffTyping},
	} {
		if got := from(cl); !slices.Equal(got, want) && !(len(want) == 2 && slices.Equal(got, []string{want[1], want[0]})) {
			t.Errorf("%s: typing %v, want %v", cl.name, got, want)
		}
	}

	staff.ok(map[string]any{"type": "read", "order_id": o.ID, "seq": 4})
	for _, cl := range []*wsClient{cust, cust2, cour} {
		cl.waitNamed(order, delivery.EventChatRead, 1)
	}
	b.barrier(everyone...)
	for _, cl := range parties {
		if got := cl.named(order, delivery.EventChatRead); len(got) != 1 {
			t.Errorf("%s: %d chat.read, want 1", cl.name, len(got))
		}
	}
	if got := stranger.allEvents(); len(got) != 0 {
		t.Errorf("outsider got %s", dump(got))
	}
}
