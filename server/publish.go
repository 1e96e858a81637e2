package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// maxEventName bounds event names of the publish API.
const maxEventName = 64

// reservedPrefixes are the event namespaces of the service itself: a
// backend publishing "order.status" would show clients a status change
// that never happened, and a durable one would sit in the order's log.
var reservedPrefixes = []string{"order.", "chat.", "courier."}

type publishRequest struct {
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	Durable bool            `json:"durable"`
}

type publishResponse struct {
	Channel string `json:"channel"`
	Event   string `json:"event"`
	Seq     int64  `json:"seq,omitempty"`
}

// handlePublish is POST /api/v1/publish: other backend services publish
// to one channel, authorized by HUB_API_KEY. A durable publish goes to an
// order channel and is appended to the order's log with the next seq, so
// that replay and resume include it; it is not copied into feeds.
func (s *Server) handlePublish(c *fiber.Ctx) error {
	key, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok || !sameKey(key, s.cfg.HubAPIKey) {
		return delivery.Errorf(delivery.EUNAUTHORIZED, "invalid API key")
	}
	var req publishRequest
	if err := decodePublish(c.Body(), &req); err != nil {
		return err
	}
	ch, err := wire.ParseChannel(req.Channel)
	if err != nil {
		return err
	}
	if ch.Kind == wire.KindOps {
		// Each instance tells its own operators its figures there.
		return delivery.Errorf(delivery.EUNPROCESSABLE, "channel: ops carries the instances' own figures only")
	}
	if ch.Kind == wire.KindTrack {
		// Viewers hold no account: they get the tracking view, nothing more.
		return delivery.Errorf(delivery.EUNPROCESSABLE, "channel: track carries the tracking view only")
	}
	if err := checkEventName(req.Event); err != nil {
		return err
	}
	if len(req.Data) == 0 {
		req.Data = json.RawMessage("null")
	}
	resp := publishResponse{Channel: ch.String(), Event: req.Event}
	if req.Durable {
		if ch.Kind != wire.KindOrder {
			return delivery.Errorf(delivery.EUNPROCESSABLE, "durable: only order channels keep events")
		}
		_, ev, err := s.cfg.Orders.AppendEvent(c.UserContext(), ch.ID, req.Event, req.Data)
		if err != nil {
			return err
		}
		resp.Seq = ev.Seq
		return c.JSON(resp)
	}
	pub := delivery.Publication{Channel: ch.String(), Event: req.Event, Data: req.Data, Ts: time.Now().UnixMilli()}
	if err := s.cfg.Publisher.Publish(c.UserContext(), pub); err != nil {
		requestLogger(c).Warn().Err(err).Msg("publish")
		c.Set(fiber.HeaderRetryAfter, "1")
		return delivery.Errorf(delivery.EUNAVAILABLE, "the bus did not take the event; retry")
	}
	return c.JSON(resp)
}

// sameKey compares in constant time; hashing first makes the time
// independent of the lengths too.
func sameKey(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// checkEventName accepts 1 to 64 characters of a-z, 0-9, '.', '_', '-'
// outside the service's own namespaces.
func checkEventName(name string) error {
	if name == "" {
		return delivery.Errorf(delivery.EINVALID, "event: required")
	}
	if len(name) > maxEventName {
		return delivery.Errorf(delivery.EINVALID, "event: at most %d characters", maxEventName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return delivery.Errorf(delivery.EINVALID, "event: only a-z, 0-9, '.', '_' and '-'")
		}
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return delivery.Errorf(delivery.EUNPROCESSABLE, "event: %s* names are reserved for the service", p)
		}
	}
	return nil
}
