package delivery

import (
	"context"
	"time"
)

// Chat event types. chat.message is durable: an event of the order's log
// with a seq, like order.* events. chat.read is ephemeral (no seq).
const (
	EventChatMessage = "chat.message"
	EventChatRead    = "chat.read"
)

// ChatCloseAfter is how long an order's chat takes new messages after the
// order reached a terminal status; its history stays readable for good.
const ChatCloseAfter = time.Hour

// Message is one chat message of an order. It is the payload of its
// chat.message event, and Seq is that event's seq, so that history paging,
// the event log and websocket replay agree on one numbering.
type Message struct {
	OrderID     ID        `json:"order_id"`
	Seq         int64     `json:"seq"`
	AuthorID    ID        `json:"author_id"`
	AuthorRole  Role      `json:"author_role"`
	Text        string    `json:"text"`
	ClientMsgID string    `json:"client_msg_id"`
	CreatedAt   time.Time `json:"created_at"`
}

// MessageInput is a chat message as a party sends it: the body of POST
// /orders/{id}/messages and the fields of the websocket chat frame.
type MessageInput struct {
	Text        string `json:"text"`
	ClientMsgID string `json:"client_msg_id"`
}

// ReadMark is the highest seq of an order's log that one user has read.
// It is the payload of chat.read.
type ReadMark struct {
	OrderID ID    `json:"order_id"`
	UserID  ID    `json:"user_id"`
	Role    Role  `json:"role"`
	Seq     int64 `json:"seq"`
}

// PostedMessage is what Store.AppendMessage did: the new message and its
// event, or (Created false) the message stored earlier under the same
// client_msg_id, with no event.
type PostedMessage struct {
	Order   Order // after the append; as it is now on a replay
	Message Message
	Event   Event // zero on a replay
	Created bool
}

// ChatStore is the part of Store that keeps chat messages and read marks.
type ChatStore interface {
	// AppendMessage serializes with the order's other changes: it locks
	// the order, and if the order already has a message with
	// m.ClientMsgID it returns that message with Created false and writes
	// nothing. Otherwise it calls allow with the locked order (allow's
	// error is returned as it is and nothing is written), then stores m as
	// the chat.message event with the order's next seq (the order's Seq
	// advances; UpdatedAt does not, a message is no change of the order)
	// and m as its payload, in one transaction. Seq and CreatedAt of m are
	// set by the store. Concurrent calls with one client_msg_id store one
	// message. An unknown order is ENOTFOUND.
	AppendMessage(ctx context.Context, m Message, allow func(Order) error) (PostedMessage, error)
	// MessagesBefore returns the last up to limit messages of an order
	// with seq < before (before <= 0: the latest), in ascending seq order.
	MessagesBefore(ctx context.Context, orderID ID, before int64, limit int) ([]Message, error)
	// MarkRead raises the read mark of (r.OrderID, r.UserID) to r.Seq if
	// that is higher than the stored one (none counts as 0), atomically.
	// It returns the mark as it is afterwards and whether it moved.
	MarkRead(ctx context.Context, r ReadMark) (ReadMark, bool, error)
	// UnreadCounts returns, for each of orderIDs with any, the number of
	// its messages not written by userID with a seq above userID's read
	// mark, in one query. Orders without unread messages are absent.
	UnreadCounts(ctx context.Context, userID ID, orderIDs []ID) (map[ID]int, error)
}

// ChatClosed reports whether o's chat no longer takes messages at now:
// ChatCloseAfter after the order became delivered, rejected or cancelled.
func ChatClosed(o Order, now time.Time) bool {
	if !o.Status.Terminal() {
		return false
	}
	finished := o.UpdatedAt // only for rows the store never gave a FinishedAt
	if o.FinishedAt != nil {
		finished = *o.FinishedAt
	}
	return !now.Before(finished.Add(ChatCloseAfter))
}
