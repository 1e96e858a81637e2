// Package wire is the websocket protocol of API.md: client frame types,
// server frame encoding, error codes, close codes and channel names. It
// knows nothing of connections; the hub reads and writes with it.
//
// Server frames are encoded by hand into caller-provided buffers: an event
// is encoded once per channel and the same bytes go to every socket, so
// encoding must be cheap and must not allocate beyond the buffer.
package wire

// Client frame types (API.md, "Client → server").
const (
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeChat        = "chat"
	TypeTyping      = "typing"
	TypeRead        = "read"
	TypeLocation    = "location"
	TypeAuth        = "auth"
)

// Server frame types.
const (
	TypeEvent        = "event"
	TypeAck          = "ack"
	TypeError        = "error"
	TypeUnsubscribed = "unsubscribed"
)

// Error frame codes. Codes shared with the REST API (internal/delivery)
// keep their names so that a client handles one vocabulary.
const (
	// CodeBadFrame: the frame is not a JSON object (malformed JSON, an
	// array, a binary message).
	CodeBadFrame = "bad_frame"
	// CodeUnknownType: "type" names no frame this server knows.
	CodeUnknownType = "unknown_type"
	// CodeInvalid: a field is missing, of the wrong type or out of range.
	CodeInvalid = "invalid"
	// CodeUnauthorized: an auth frame carried no valid token.
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: the caller may not use that channel or order.
	CodeForbidden = "forbidden"
	// CodeNotFound: the order (or restaurant) does not exist.
	CodeNotFound = "not_found"
	// CodeTooManySubscriptions: the connection holds the maximum.
	CodeTooManySubscriptions = "too_many_subscriptions"
	// CodeNotImplemented: a frame of the contract this server does not
	// serve yet (chat, typing, read, location until they land).
	CodeNotImplemented = "not_implemented"
	// CodeInternal: the server failed; the message says nothing more.
	CodeInternal = "internal"
)

// Close codes (API.md, "Close codes"). 1009 is sent by the websocket
// library when a frame exceeds the read limit.
const (
	CloseInternal     = 1011
	CloseRestart      = 1012
	CloseTokenExpired = 4001
	CloseForbidden    = 4003
	CloseRateLimited  = 4008
	CloseSlow         = 4009
)

// Ephemeral event names the hub itself emits: on the dispatch channel,
// and typing on order channels.
const (
	EventOrderOffered = "order.offered"
	EventOrderClaimed = "order.claimed"
	EventChatTyping   = "chat.typing"
)
