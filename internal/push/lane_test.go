package push

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/push/pushtest"
)

// oneSubscriber is a store with one subscription, of user 10, and no
// orders to read.
type oneSubscriber struct{ sub delivery.PushSubscription }

func (o oneSubscriber) SavePushSubscription(context.Context, delivery.PushSubscription, int) (delivery.PushSubscription, error) {
	return o.sub, nil
}
func (o oneSubscriber) DeletePushSubscription(context.Context, delivery.ID, string) error { return nil }
func (o oneSubscriber) PushSubscriptions(_ context.Context, a delivery.PushAudience) ([]delivery.PushSubscription, error) {
	if slices.Contains(a.Users, o.sub.UserID) {
		return []delivery.PushSubscription{o.sub}, nil
	}
	return nil, nil
}
func (o oneSubscriber) OrderByID(context.Context, delivery.ID) (delivery.Order, error) {
	return delivery.Order{}, delivery.Errorf(delivery.ENOTFOUND, "no orders here")
}

type nobodyPresent struct{}

func (nobodyPresent) Present(context.Context, []delivery.ID) (map[delivery.ID]bool, error) {
	return nil, nil
}

// Two status changes of one order reach a subscription in their order,
// the retry of the first holding the second back: the push service keeps
// the last message of a Topic, which must be the latest.
func TestMessagesOfAnOrderArePostedInOrder(t *testing.T) {
	keys, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	ps := pushtest.New(t, keys.PublicKey())
	browser := ps.Subscribe("customer")
	k := browser["keys"].(map[string]string)
	store := oneSubscriber{delivery.PushSubscription{UserID: 10, Endpoint: ps.Endpoint("customer"), P256dh: k["p256dh"], Auth: k["auth"]}}
	s, err := New(Config{Store: store, Presence: nobodyPresent{}, Keys: keys, AllowInsecure: true, Backoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps.Script("customer", pushtest.Answer{Status: http.StatusServiceUnavailable})

	for _, step := range []struct {
		seq    int64
		status delivery.Status
	}{{2, delivery.StatusReady}, {3, delivery.StatusPickedUp}} {
		data, _ := json.Marshal(delivery.Order{ID: 42, Status: step.status, CustomerID: 10, RestaurantID: 2})
		s.Published(delivery.Event{OrderID: 42, Seq: step.seq, Type: delivery.EventOrderStatus, Data: data}, nil)
	}
	msgs := ps.WaitMessages(2, 10*time.Second)
	if msgs[0].Payload.Title != "Order 42 is ready" || msgs[1].Payload.Title != "Order 42 was picked up" {
		t.Errorf("delivered %q then %q, want ready then picked up", msgs[0].Payload.Title, msgs[1].Payload.Title)
	}
	var statuses []int
	for _, p := range ps.Posts() {
		statuses = append(statuses, p.Status)
	}
	if !slices.Equal(statuses, []int{503, 201, 201}) {
		t.Errorf("posts answered %v, want the refused first, its retry, then the second", statuses)
	}
}
