package orders

import (
	"context"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Limits of the chat.
const (
	MaxMessageText = 2000 // characters (runes), after trimming
	MaxClientMsgID = 64   // characters
)

// PostMessage spends one of a's chat messages (Limits) and stores a chat
// message of a on the order as its next durable
// chat.message event and publishes it. A retry with the same client_msg_id
// returns the stored message with created=false and stores nothing; the
// same client_msg_id with another text or author is EIDEMPOTENCY. Parties
// post (admins do not: delivery.CanChat) until delivery.ChatClosed, then
// ECHATCLOSED; a retry of a message stored before still gets its answer.
func (s *Service) PostMessage(ctx context.Context, a delivery.Actor, orderID delivery.ID, req delivery.MessageInput) (delivery.Message, bool, error) {
	if err := s.limits.Chat(a.UserID); err != nil {
		return delivery.Message{}, false, err
	}
	text, err := delivery.CheckText("text", req.Text, delivery.TextRule{Max: MaxMessageText, Required: true, Multiline: true})
	if err != nil {
		return delivery.Message{}, false, err
	}
	if err := checkClientMsgID(req.ClientMsgID); err != nil {
		return delivery.Message{}, false, err
	}
	// Checked before the store's lock, so that a non-party learns
	// nothing, not even whether a client_msg_id was used; and again under
	// it, since an unassign may take the courier off the order meanwhile.
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return delivery.Message{}, false, err
	}
	if err := canChat(o, a); err != nil {
		return delivery.Message{}, false, err
	}
	m := delivery.Message{OrderID: orderID, AuthorID: a.UserID, AuthorRole: a.Role, Text: text, ClientMsgID: req.ClientMsgID}
	p, err := s.store.AppendMessage(ctx, m, func(cur delivery.Order) error {
		if err := canChat(cur, a); err != nil {
			return err
		}
		if delivery.ChatClosed(cur, s.now()) {
			return delivery.Errorf(delivery.ECHATCLOSED, "chat closed: the order was %s more than %s ago", cur.Status, delivery.ChatCloseAfter)
		}
		return nil
	})
	if err != nil {
		return delivery.Message{}, false, err
	}
	if !p.Created {
		if p.Message.AuthorID != a.UserID || p.Message.Text != text {
			return delivery.Message{}, false, delivery.Errorf(delivery.EIDEMPOTENCY, "client_msg_id: already used for another message")
		}
		return p.Message, false, nil
	}
	s.publish(ctx, p.Order, p.Event)
	return p.Message, true, nil
}

// canChat answers a non-party with the one forbidden error, and an admin
// with why not.
func canChat(o delivery.Order, a delivery.Actor) error {
	if !delivery.IsParty(o, a) {
		return forbidden()
	}
	if !delivery.CanChat(o, a) {
		return delivery.Errorf(delivery.EFORBIDDEN, "admins read order chats but do not take part")
	}
	return nil
}

// checkClientMsgID accepts an id as sent: it names a message, so it is
// not trimmed into another one.
func checkClientMsgID(id string) error {
	trimmed, err := delivery.CheckText("client_msg_id", id, delivery.TextRule{Max: MaxClientMsgID, Required: true})
	if err == nil && trimmed != id {
		err = delivery.Errorf(delivery.EINVALID, "client_msg_id: must not start or end with spaces")
	}
	return err
}

// MessagePage is one page of chat history, oldest first. NextBefore is
// the before of the next older page, nil when there is none (a full page
// always has one, which may then be empty).
type MessagePage struct {
	Messages   []delivery.Message `json:"messages"`
	NextBefore *int64             `json:"next_before"`
}

// Messages returns the order's messages with seq < before (before 0: the
// latest), up to limit, for its parties (admins included). The seqs are
// those of the chat.message events of Events.
func (s *Service) Messages(ctx context.Context, a delivery.Actor, orderID delivery.ID, before int64, limit int) (MessagePage, error) {
	if before < 0 {
		return MessagePage{}, delivery.Errorf(delivery.EINVALID, "before: must not be negative")
	}
	if limit == 0 {
		limit = delivery.DefaultPageLimit
	}
	if limit < 1 || limit > delivery.MaxPageLimit {
		return MessagePage{}, delivery.Errorf(delivery.EINVALID, "limit: must be 1 to %d", delivery.MaxPageLimit)
	}
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return MessagePage{}, err
	}
	if !delivery.IsParty(o, a) {
		return MessagePage{}, forbidden()
	}
	msgs, err := s.store.MessagesBefore(ctx, orderID, before, limit)
	if err != nil {
		return MessagePage{}, err
	}
	page := MessagePage{Messages: msgs}
	if len(msgs) == limit {
		next := msgs[0].Seq
		page.NextBefore = &next
	}
	return page, nil
}

// MarkRead raises a's read mark on the order to seq (any seq of its log,
// at most the order's latest) and reports whether it moved; a mark never
// decreases. A moved mark is published as chat.read (routeRead), so that
// the REST endpoint and the websocket read frame both reach the others;
// callers do not publish it again.
func (s *Service) MarkRead(ctx context.Context, a delivery.Actor, orderID delivery.ID, seq int64) (delivery.ReadMark, bool, error) {
	if seq < 1 {
		return delivery.ReadMark{}, false, delivery.Errorf(delivery.EINVALID, "seq: must be a positive integer")
	}
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return delivery.ReadMark{}, false, err
	}
	if err := canChat(o, a); err != nil {
		return delivery.ReadMark{}, false, err
	}
	// The order's seq only grows, so a seq within it now stays within it.
	if seq > o.Seq {
		return delivery.ReadMark{}, false, delivery.Errorf(delivery.EUNPROCESSABLE, "seq: the order's log ends at seq %d", o.Seq)
	}
	r, moved, err := s.store.MarkRead(ctx, delivery.ReadMark{OrderID: orderID, UserID: a.UserID, Role: a.Role, Seq: seq})
	if err != nil {
		return delivery.ReadMark{}, false, err
	}
	r.Role = a.Role
	if moved {
		pubs, err := routeRead(o, r, s.now().UnixMilli())
		if err != nil {
			return delivery.ReadMark{}, false, err
		}
		s.publishEphemeral(ctx, pubs)
	}
	return r, moved, nil
}

// Unread returns, for the orders of list whose chat a takes part in
// (delivery.CanChat), the number of messages by others above a's read
// mark, with one store query for the whole list. Orders without unread
// messages, and orders a only views (an offered order to a courier, any
// order to an admin), are absent: their chat is not a's to count.
func (s *Service) Unread(ctx context.Context, a delivery.Actor, list []delivery.Order) (map[delivery.ID]int, error) {
	ids := make([]delivery.ID, 0, len(list))
	for _, o := range list {
		if delivery.CanChat(o, a) {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		return map[delivery.ID]int{}, nil
	}
	return s.store.UnreadCounts(ctx, a.UserID, ids)
}
