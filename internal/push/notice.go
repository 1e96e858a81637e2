package push

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// Message is the payload of a push (API.md: {order_id, event, title,
// body, url}), encrypted to the subscription's keys end to end.
type Message struct {
	OrderID string `json:"order_id"`
	Event   string `json:"event"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	URL     string `json:"url"`
}

// notice is one message of an event with the subscriptions it goes to.
type notice struct {
	msg      Message
	audience delivery.PushAudience
	urgent   bool // Urgency: high (status changes); normal otherwise
}

// Bounds of what one event pushes: the parties' subscriptions (a
// restaurant's staff at MaxPerUser each), and an offer's couriers.
const (
	maxPartySubscriptions = 500
	maxOfferSubscriptions = 1000
)

// maxChatPreview is how much of a chat message a push shows (runes).
const maxChatPreview = 120

// pushedEvent reports whether events of type t are pushed to the order's
// parties.
func pushedEvent(t string) bool {
	return t == delivery.EventOrderStatus || t == delivery.EventChatMessage || t == delivery.EventCourierArrived
}

// offerOf returns the offer view an event's publications offer couriers
// (order.offered on dispatch), or nil.
func offerOf(pubs []delivery.Publication) []byte {
	for _, p := range pubs {
		if p.Channel == wire.DispatchChannel && p.Event == wire.EventOrderOffered {
			return p.Data
		}
	}
	return nil
}

// orderReader reads an order; the store is one.
type orderReader interface {
	OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error)
}

// notices returns what ev pushes: to its order's parties but the one
// that caused it, and the offer to couriers.
func notices(ctx context.Context, orders orderReader, ev delivery.Event, offer []byte) ([]notice, error) {
	var out []notice
	if pushedEvent(ev.Type) {
		n, err := partyNotice(ctx, orders, ev)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if offer != nil {
		var v delivery.OfferView
		if err := json.Unmarshal(offer, &v); err != nil {
			return nil, fmt.Errorf("decode offer of order %s: %w", ev.OrderID, err)
		}
		out = append(out, notice{
			msg: message(ev.OrderID, wire.EventOrderOffered, fmt.Sprintf("Order %s is up for delivery", ev.OrderID),
				fmt.Sprintf("%s, %s", v.RestaurantName, plural(v.ItemsCount, "item"))),
			audience: delivery.PushAudience{Couriers: true, Limit: maxOfferSubscriptions},
		})
	}
	return out, nil
}

// partyNotice is the message of an order.status, chat.message or
// courier.arrived event, for the parties of its order but the actor: the
// party that set the status (all of them when the order cannot tell, see
// delivery.StatusSetter), the author's party, the courier who arrived.
// The restaurant's party is all of its staff.
func partyNotice(ctx context.Context, orders orderReader, ev delivery.Event) (notice, error) {
	var (
		o      delivery.Order
		actor  delivery.Role
		title  string
		body   string
		urgent bool
	)
	switch ev.Type {
	case delivery.EventOrderStatus:
		if err := json.Unmarshal(ev.Data, &o); err != nil {
			return notice{}, fmt.Errorf("decode %s of order %s: %w", ev.Type, ev.OrderID, err)
		}
		actor, _ = delivery.StatusSetter(o)
		title, urgent = statusTitle(o), true
		body = o.RestaurantName
		if o.Reason != "" {
			body += ": " + shorten(o.Reason, maxChatPreview)
		}
	case delivery.EventChatMessage:
		var m delivery.Message
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			return notice{}, fmt.Errorf("decode %s of order %s: %w", ev.Type, ev.OrderID, err)
		}
		var err error
		if o, err = orders.OrderByID(ctx, ev.OrderID); err != nil {
			return notice{}, err
		}
		actor = m.AuthorRole
		title = fmt.Sprintf("Message about order %s", o.ID)
		body = roleWord(m.AuthorRole) + ": " + shorten(m.Text, maxChatPreview)
	case delivery.EventCourierArrived:
		var a delivery.Arrived
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			return notice{}, fmt.Errorf("decode %s of order %s: %w", ev.Type, ev.OrderID, err)
		}
		var err error
		if o, err = orders.OrderByID(ctx, ev.OrderID); err != nil {
			return notice{}, err
		}
		actor = delivery.RoleCourier
		place := "the drop-off"
		if a.At == delivery.AtPickup {
			place = "the restaurant"
		}
		title = fmt.Sprintf("Order %s: the courier is at %s", o.ID, place)
		body = o.RestaurantName
	}
	a := delivery.PushAudience{Limit: maxPartySubscriptions}
	if actor != delivery.RoleCustomer {
		a.Users = append(a.Users, o.CustomerID)
	}
	if actor != delivery.RoleCourier && o.CourierID != nil {
		a.Users = append(a.Users, *o.CourierID)
	}
	if actor != delivery.RoleRestaurant {
		a.Restaurant = o.RestaurantID
	}
	return notice{msg: message(o.ID, ev.Type, title, body), audience: a, urgent: urgent}, nil
}

func message(orderID delivery.ID, event, title, body string) Message {
	return Message{OrderID: orderID.String(), Event: event, Title: title, Body: body, URL: "/#/orders/" + orderID.String()}
}

// statusTitle says the order's new status in plain words.
func statusTitle(o delivery.Order) string {
	words := map[delivery.Status]string{
		delivery.StatusAccepted:  "was accepted",
		delivery.StatusRejected:  "was rejected",
		delivery.StatusPreparing: "is being prepared",
		delivery.StatusReady:     "is ready",
		delivery.StatusPickedUp:  "was picked up",
		delivery.StatusDelivered: "was delivered",
		delivery.StatusCancelled: "was cancelled",
	}
	w, ok := words[o.Status]
	if !ok {
		w = "is " + strings.ReplaceAll(string(o.Status), "_", " ")
	}
	return fmt.Sprintf("Order %s %s", o.ID, w)
}

func roleWord(r delivery.Role) string {
	switch r {
	case delivery.RoleCustomer:
		return "Customer"
	case delivery.RoleRestaurant:
		return "Restaurant"
	case delivery.RoleCourier:
		return "Courier"
	}
	return "Someone"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
