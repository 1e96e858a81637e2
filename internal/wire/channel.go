package wire

import (
	"strings"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Kind is the namespace of a channel; it decides who may subscribe and
// whether durable events on it are sequenced per order.
type Kind uint8

const (
	KindOrder      Kind = iota + 1 // order:{id}, the parties of one order
	KindUser                       // user:{id}, one user's feed
	KindRestaurant                 // restaurant:{id}, one restaurant's staff
	KindDispatch                   // dispatch, every courier
)

// Channel is a parsed channel name.
type Channel struct {
	Kind Kind
	ID   delivery.ID // zero for dispatch
}

// DispatchChannel is the one channel of couriers.
const DispatchChannel = "dispatch"

// MaxChannelLen bounds channel names: a prefix and a 19-digit id.
const MaxChannelLen = 32

// OrderChannel, UserChannel and RestaurantChannel name a channel.
func OrderChannel(id delivery.ID) string      { return "order:" + id.String() }
func UserChannel(id delivery.ID) string       { return "user:" + id.String() }
func RestaurantChannel(id delivery.ID) string { return "restaurant:" + id.String() }

// ParseChannel parses one of the channel names of API.md. Anything else,
// including ids with signs, leading zeros or spaces, is EINVALID, so that
// one channel has exactly one name.
func ParseChannel(s string) (Channel, error) {
	if s == DispatchChannel {
		return Channel{Kind: KindDispatch}, nil
	}
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok || len(s) > MaxChannelLen {
		return Channel{}, invalidChannel(s)
	}
	var k Kind
	switch prefix {
	case "order":
		k = KindOrder
	case "user":
		k = KindUser
	case "restaurant":
		k = KindRestaurant
	default:
		return Channel{}, invalidChannel(s)
	}
	id, err := delivery.ParseID(rest)
	if err != nil || id.String() != rest {
		return Channel{}, invalidChannel(s)
	}
	return Channel{Kind: k, ID: id}, nil
}

func invalidChannel(s string) error {
	if len(s) > MaxChannelLen {
		s = s[:MaxChannelLen] + "…"
	}
	return delivery.Errorf(CodeInvalid, "channel: unknown channel %q (order:{id}, user:{id}, restaurant:{id} or dispatch)", s)
}

// String returns the channel's name.
func (c Channel) String() string {
	switch c.Kind {
	case KindOrder:
		return OrderChannel(c.ID)
	case KindUser:
		return UserChannel(c.ID)
	case KindRestaurant:
		return RestaurantChannel(c.ID)
	case KindDispatch:
		return DispatchChannel
	}
	return ""
}
