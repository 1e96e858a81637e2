package server

import (
	"context"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/wire"
)

// NewActions returns the hub's Actions on svc: the websocket chat, typing,
// read and location frames call the same service methods as their REST
// twins, so both follow one set of rules. The hub decoded the frame
// (wire.Decode, which also refuses chat text that was not UTF-8 as sent);
// the service validates the rest. Chat and location frames spend from
// the same per-user budgets of lim as POST /orders/{id}/messages and POST
// /couriers/me/location (nil: no budgets); a refused frame is answered
// with an error frame rate_limited, the connection stays.
func NewActions(svc *orders.Service, lim *limits.Limits) hub.Actions { return actions{svc, lim} }

type actions struct {
	svc *orders.Service
	lim *limits.Limits
}

func (a actions) HandleFrame(ctx context.Context, actor delivery.Actor, f wire.ClientFrame) (int64, error) {
	switch f.Type {
	case wire.TypeChat:
		if err := a.lim.Chat(actor.UserID); err != nil {
			return 0, err
		}
		m, _, err := a.svc.PostMessage(ctx, actor, f.OrderID, orders.PostMessageRequest{Text: f.Text, ClientMsgID: f.ClientMsgID})
		return m.Seq, err
	case wire.TypeRead:
		_, _, err := a.svc.MarkRead(ctx, actor, f.OrderID, f.Seq)
		return 0, err
	case wire.TypeLocation:
		if err := a.lim.Position(actor.UserID); err != nil {
			return 0, err
		}
		_, err := a.svc.UpdateLocation(ctx, actor, delivery.LocationUpdate{Lat: f.Lat, Lng: f.Lng, Heading: f.Heading, Speed: f.Speed, Ts: f.Ts})
		return 0, err
	}
	return 0, delivery.Errorf(wire.CodeUnknownType, "type: %s frames are not actions", f.Type)
}

func (a actions) CanType(ctx context.Context, actor delivery.Actor, orderID delivery.ID) error {
	return a.svc.CanType(ctx, actor, orderID)
}

func (a actions) LastLocation(ctx context.Context, actor delivery.Actor, orderID delivery.ID) (delivery.Location, bool, error) {
	return a.svc.LastLocation(ctx, actor, orderID)
}
