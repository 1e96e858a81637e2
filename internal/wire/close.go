package wire

import "github.com/ordercast/ordercast/internal/delivery"

// CloseReason is a close the server sends: its code and its text, named
// once for every transport (the websocket's close frame, the event
// stream's close event), and the name logs give it.
type CloseReason struct {
	Code int
	Text string
	// Name is fixed snake_case for logs: an operator counts closes by it.
	Name string
}

// Every close the hub sends but 1009, which the websocket library sends
// itself for a frame over the read limit.
var (
	ReasonRestart      = CloseReason{CloseRestart, "server restarting", "restart"}
	ReasonTokenExpired = CloseReason{CloseTokenExpired, "token expired", "token_expired"}
	ReasonSessionEnded = CloseReason{CloseTokenExpired, "session ended", "session_ended"}
	ReasonOtherUser    = CloseReason{CloseForbidden, "token of another user", "other_user"}
	ReasonRateLimited  = CloseReason{CloseRateLimited, "rate limited: too many frames", "rate_limited"}
	ReasonSlow         = CloseReason{CloseSlow, "too slow: send queue overflowed", "slow"}
	// ReasonResume: a gap could not be repaired, or a replay failed after
	// its subscribe was acked; the client reconnects and resumes.
	ReasonResume = CloseReason{CloseInternal, "internal error, resume", "resume"}
)

// frameCodes answers each domain error code (internal/delivery) with the
// code of an error frame, as the REST side answers each with a status.
// Codes the hub itself uses (bad_frame, unknown_type,
// too_many_subscriptions, not_implemented) are their own. What no frame
// can meet (method_not_allowed, email_taken, ...) is internal.
var frameCodes = map[string]string{
	delivery.EINVALID:       CodeInvalid,
	delivery.EUNAUTHORIZED:  CodeUnauthorized,
	delivery.ETOKENREUSED:   CodeUnauthorized,
	delivery.EFORBIDDEN:     CodeForbidden,
	delivery.ENOTFOUND:      CodeNotFound,
	delivery.EUNPROCESSABLE: delivery.EUNPROCESSABLE, // a read mark beyond the log
	delivery.ECHATCLOSED:    delivery.ECHATCLOSED,
	delivery.EIDEMPOTENCY:   delivery.EIDEMPOTENCY, // a client_msg_id reused for other text
	delivery.ERATELIMITED:   delivery.ERATELIMITED, // a chat or position budget spent
	delivery.EUNAVAILABLE:   delivery.EUNAVAILABLE,
	delivery.EINTERNAL:      CodeInternal,

	CodeBadFrame:             CodeBadFrame,
	CodeUnknownType:          CodeUnknownType,
	CodeTooManySubscriptions: CodeTooManySubscriptions,
	CodeNotImplemented:       CodeNotImplemented,
}

// FrameCode is the error frame code that answers the domain code.
func FrameCode(code string) string {
	if c, ok := frameCodes[code]; ok {
		return c
	}
	return CodeInternal
}
