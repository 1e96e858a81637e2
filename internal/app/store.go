package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/metrics"
)

// timedStore is the instance's Store timed by method: every call is
// observed in ordercast_store_query_duration_seconds{op}, op the
// method's name. The next store is a field, not embedded, so that a
// method added to Store cannot pass through untimed: timedStore stops
// being a Store until it times it too. A method's time includes its
// callbacks (UpdateOrder's mutate, RelayPending's publishes).
type timedStore struct {
	next     Store
	duration *prometheus.HistogramVec
}

var _ Store = (*timedStore)(nil)

func newTimedStore(next Store, reg prometheus.Registerer) *timedStore {
	s := &timedStore{next: next, duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ordercast_store_query_duration_seconds",
		Help:    "Store calls, by method (op), successful or not.",
		Buckets: metrics.LatencyBuckets,
	}, []string{"op"})}
	reg.MustRegister(s.duration)
	return s
}

// observe records a call of op that began at start: deferred, with
// time.Now() evaluated as the call begins.
func (s *timedStore) observe(op string, start time.Time) {
	s.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (s *timedStore) CreateUser(ctx context.Context, u delivery.User, r delivery.Restaurant) (delivery.User, error) {
	defer s.observe("CreateUser", time.Now())
	return s.next.CreateUser(ctx, u, r)
}

func (s *timedStore) UserByID(ctx context.Context, id delivery.ID) (delivery.User, error) {
	defer s.observe("UserByID", time.Now())
	return s.next.UserByID(ctx, id)
}

func (s *timedStore) UserByEmail(ctx context.Context, email string) (delivery.User, error) {
	defer s.observe("UserByEmail", time.Now())
	return s.next.UserByEmail(ctx, email)
}

func (s *timedStore) CreateRefreshToken(ctx context.Context, t delivery.RefreshToken) error {
	defer s.observe("CreateRefreshToken", time.Now())
	return s.next.CreateRefreshToken(ctx, t)
}

func (s *timedStore) RotateRefreshToken(ctx context.Context, oldHash string, next delivery.RefreshToken, now time.Time) (delivery.ID, string, error) {
	defer s.observe("RotateRefreshToken", time.Now())
	return s.next.RotateRefreshToken(ctx, oldHash, next, now)
}

func (s *timedStore) RevokeSession(ctx context.Context, userID delivery.ID, sid string, now time.Time) error {
	defer s.observe("RevokeSession", time.Now())
	return s.next.RevokeSession(ctx, userID, sid, now)
}

func (s *timedStore) RevokeUserSessions(ctx context.Context, userID delivery.ID, now time.Time) ([]string, error) {
	defer s.observe("RevokeUserSessions", time.Now())
	return s.next.RevokeUserSessions(ctx, userID, now)
}

func (s *timedStore) RevokedSessions(ctx context.Context, since time.Time) ([]delivery.Revocation, error) {
	defer s.observe("RevokedSessions", time.Now())
	return s.next.RevokedSessions(ctx, since)
}

func (s *timedStore) PurgeRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	defer s.observe("PurgeRevocations", time.Now())
	return s.next.PurgeRevocations(ctx, before, limit)
}

func (s *timedStore) PurgeRefreshTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	defer s.observe("PurgeRefreshTokens", time.Now())
	return s.next.PurgeRefreshTokens(ctx, now, limit)
}

func (s *timedStore) ListRestaurants(ctx context.Context) ([]delivery.Restaurant, error) {
	defer s.observe("ListRestaurants", time.Now())
	return s.next.ListRestaurants(ctx)
}

func (s *timedStore) RestaurantByID(ctx context.Context, id delivery.ID) (delivery.Restaurant, error) {
	defer s.observe("RestaurantByID", time.Now())
	return s.next.RestaurantByID(ctx, id)
}

func (s *timedStore) UpdateRestaurant(ctx context.Context, id delivery.ID, p delivery.RestaurantPatch) (delivery.Restaurant, error) {
	defer s.observe("UpdateRestaurant", time.Now())
	return s.next.UpdateRestaurant(ctx, id, p)
}

func (s *timedStore) ListMenu(ctx context.Context, restaurantID, afterID delivery.ID, limit int) ([]delivery.MenuItem, error) {
	defer s.observe("ListMenu", time.Now())
	return s.next.ListMenu(ctx, restaurantID, afterID, limit)
}

func (s *timedStore) MenuItemsByID(ctx context.Context, restaurantID delivery.ID, ids []delivery.ID) ([]delivery.MenuItem, error) {
	defer s.observe("MenuItemsByID", time.Now())
	return s.next.MenuItemsByID(ctx, restaurantID, ids)
}

func (s *timedStore) CreateMenuItem(ctx context.Context, item delivery.MenuItem) (delivery.MenuItem, error) {
	defer s.observe("CreateMenuItem", time.Now())
	return s.next.CreateMenuItem(ctx, item)
}

func (s *timedStore) UpdateMenuItem(ctx context.Context, restaurantID, itemID delivery.ID, p delivery.MenuItemPatch) (delivery.MenuItem, error) {
	defer s.observe("UpdateMenuItem", time.Now())
	return s.next.UpdateMenuItem(ctx, restaurantID, itemID, p)
}

func (s *timedStore) CreateOrder(ctx context.Context, o delivery.Order, key delivery.IdempotencyKey) (delivery.Order, bool, error) {
	defer s.observe("CreateOrder", time.Now())
	return s.next.CreateOrder(ctx, o, key)
}

func (s *timedStore) OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error) {
	defer s.observe("OrderByID", time.Now())
	return s.next.OrderByID(ctx, id)
}

func (s *timedStore) UpdateOrder(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, delivery.Event, error) {
	defer s.observe("UpdateOrder", time.Now())
	return s.next.UpdateOrder(ctx, id, mutate)
}

func (s *timedStore) ListOrders(ctx context.Context, f delivery.OrderFilter) ([]delivery.Order, error) {
	defer s.observe("ListOrders", time.Now())
	return s.next.ListOrders(ctx, f)
}

func (s *timedStore) ActiveOrdersOfCourier(ctx context.Context, courierID delivery.ID) ([]delivery.ActiveOrder, error) {
	defer s.observe("ActiveOrdersOfCourier", time.Now())
	return s.next.ActiveOrdersOfCourier(ctx, courierID)
}

func (s *timedStore) RecordStay(ctx context.Context, orderID, courierID delivery.ID, at delivery.Arrival, was, next delivery.Stay) (bool, error) {
	defer s.observe("RecordStay", time.Now())
	return s.next.RecordStay(ctx, orderID, courierID, at, was, next)
}

func (s *timedStore) StoreETA(ctx context.Context, orderID delivery.ID, status delivery.Status, wasAt int64, eta delivery.ETA) (bool, error) {
	defer s.observe("StoreETA", time.Now())
	return s.next.StoreETA(ctx, orderID, status, wasAt, eta)
}

func (s *timedStore) EventsAfter(ctx context.Context, orderID delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	defer s.observe("EventsAfter", time.Now())
	return s.next.EventsAfter(ctx, orderID, after, limit)
}

func (s *timedStore) AppendMessage(ctx context.Context, m delivery.Message, allow func(delivery.Order) error) (delivery.PostedMessage, error) {
	defer s.observe("AppendMessage", time.Now())
	return s.next.AppendMessage(ctx, m, allow)
}

func (s *timedStore) MessagesBefore(ctx context.Context, orderID delivery.ID, before int64, limit int) ([]delivery.Message, error) {
	defer s.observe("MessagesBefore", time.Now())
	return s.next.MessagesBefore(ctx, orderID, before, limit)
}

func (s *timedStore) MarkRead(ctx context.Context, r delivery.ReadMark) (delivery.ReadMark, bool, error) {
	defer s.observe("MarkRead", time.Now())
	return s.next.MarkRead(ctx, r)
}

func (s *timedStore) UnreadCounts(ctx context.Context, userID delivery.ID, orderIDs []delivery.ID) (map[delivery.ID]int, error) {
	defer s.observe("UnreadCounts", time.Now())
	return s.next.UnreadCounts(ctx, userID, orderIDs)
}

func (s *timedStore) RelayPending(ctx context.Context, from, to time.Time, limit int, publish func(delivery.Event) error) (int, error) {
	defer s.observe("RelayPending", time.Now())
	return s.next.RelayPending(ctx, from, to, limit, publish)
}

func (s *timedStore) MarkPublished(ctx context.Context, events []delivery.Event) error {
	defer s.observe("MarkPublished", time.Now())
	return s.next.MarkPublished(ctx, events)
}

func (s *timedStore) ExpirePending(ctx context.Context, before time.Time, limit int) (int, error) {
	defer s.observe("ExpirePending", time.Now())
	return s.next.ExpirePending(ctx, before, limit)
}

func (s *timedStore) OldestUnpublished(ctx context.Context) (time.Time, bool, error) {
	defer s.observe("OldestUnpublished", time.Now())
	return s.next.OldestUnpublished(ctx)
}

func (s *timedStore) Ping(ctx context.Context) error {
	defer s.observe("Ping", time.Now())
	return s.next.Ping(ctx)
}

// Close is no query: it passes through untimed.
func (s *timedStore) Close() error { return s.next.Close() }

func (s *timedStore) SavePushSubscription(ctx context.Context, sub delivery.PushSubscription, maxPerUser int) (delivery.PushSubscription, error) {
	defer s.observe("SavePushSubscription", time.Now())
	return s.next.SavePushSubscription(ctx, sub, maxPerUser)
}

func (s *timedStore) DeletePushSubscription(ctx context.Context, userID delivery.ID, endpoint string) error {
	defer s.observe("DeletePushSubscription", time.Now())
	return s.next.DeletePushSubscription(ctx, userID, endpoint)
}

func (s *timedStore) PushSubscriptions(ctx context.Context, a delivery.PushAudience) ([]delivery.PushSubscription, error) {
	defer s.observe("PushSubscriptions", time.Now())
	return s.next.PushSubscriptions(ctx, a)
}

func (s *timedStore) CreateTrackLink(ctx context.Context, orderID delivery.ID, hash string, max int) (delivery.TrackLink, error) {
	defer s.observe("CreateTrackLink", time.Now())
	return s.next.CreateTrackLink(ctx, orderID, hash, max)
}

func (s *timedStore) TrackLinks(ctx context.Context, orderID delivery.ID) ([]delivery.TrackLink, error) {
	defer s.observe("TrackLinks", time.Now())
	return s.next.TrackLinks(ctx, orderID)
}

func (s *timedStore) TrackLinkByHash(ctx context.Context, hash string) (delivery.TrackLink, error) {
	defer s.observe("TrackLinkByHash", time.Now())
	return s.next.TrackLinkByHash(ctx, hash)
}

func (s *timedStore) DeleteTrackLink(ctx context.Context, orderID, linkID delivery.ID, now time.Time) error {
	defer s.observe("DeleteTrackLink", time.Now())
	return s.next.DeleteTrackLink(ctx, orderID, linkID, now)
}
