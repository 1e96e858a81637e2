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
	KindOps                        // ops, the operators: each instance's own figures
	KindTrack                      // track:{order_id}, the viewers of one order's tracking links
)

// NumKinds bounds the Kind values, for arrays indexed by Kind.
const NumKinds = int(KindTrack) + 1

// kindNames are the names of the kinds, as channel names start.
var kindNames = [NumKinds]string{
	KindOrder: "order", KindUser: "user", KindRestaurant: "restaurant",
	KindDispatch: "dispatch", KindOps: "ops", KindTrack: "track",
}

// String returns the kind's name ("order", "dispatch", ...).
func (k Kind) String() string {
	if int(k) < NumKinds {
		return kindNames[k]
	}
	return ""
}

// Channel is a parsed channel name.
type Channel struct {
	Kind Kind
	ID   delivery.ID // zero for dispatch and ops
}

// DispatchChannel is the one channel of couriers.
const DispatchChannel = "dispatch"

// OpsChannel is the one channel of operators. Each instance pushes its
// EventOpsStats to its own subscribers only: it never crosses the bus.
const OpsChannel = "ops"

// EventOpsStats is the event of OpsChannel: the fleet's figures.
const EventOpsStats = "ops.stats"

// MaxChannelLen bounds channel names: a prefix and a 19-digit id.
const MaxChannelLen = 32

// OrderChannel, UserChannel and RestaurantChannel name a channel.
func OrderChannel(id delivery.ID) string      { return "order:" + id.String() }
func UserChannel(id delivery.ID) string       { return "user:" + id.String() }
func RestaurantChannel(id delivery.ID) string { return "restaurant:" + id.String() }
func TrackChannel(id delivery.ID) string      { return "track:" + id.String() }

// ParseChannel parses one of the channel names of API.md. Anything else,
// including ids with signs, leading zeros or spaces, is EINVALID, so that
// one channel has exactly one name.
func ParseChannel(s string) (Channel, error) {
	switch s {
	case DispatchChannel:
		return Channel{Kind: KindDispatch}, nil
	case OpsChannel:
		return Channel{Kind: KindOps}, nil
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
	case "track":
		k = KindTrack
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
	return delivery.Errorf(CodeInvalid, "channel: unknown channel %q (order:{id}, user:{id}, restaurant:{id}, track:{order_id}, dispatch or ops)", s)
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
	case KindOps:
		return OpsChannel
	case KindTrack:
		return TrackChannel(c.ID)
	}
	return ""
}
