package delivery

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The server maps each to one HTTP status
// (server/errors.go) and the hub to one error frame code.
const (
	ECONFLICT          = "conflict"
	EINTERNAL          = "internal"
	EINVALID           = "invalid"
	ENOTFOUND          = "not_found"
	EUNAUTHORIZED      = "unauthorized"
	EFORBIDDEN         = "forbidden"
	ETOOLARGE          = "too_large"
	EUNPROCESSABLE     = "unprocessable"
	ERATELIMITED       = "rate_limited"
	ETOOMANYCONNS      = "too_many_connections"
	EINVALIDTRANSITION = "invalid_transition"
	EALREADYASSIGNED   = "already_assigned"
	ETOOMANYACTIVE     = "too_many_active"
	EPRECONDITION      = "precondition_failed"
	EEMAILTAKEN        = "email_taken"
	ETOKENREUSED       = "token_reused"
	EIDEMPOTENCY       = "idempotency_mismatch"
	EUNAVAILABLE       = "unavailable"
	ECHATCLOSED        = "chat_closed"
	EMETHOD            = "method_not_allowed"
	EMEDIATYPE         = "unsupported_media_type"
)

// Error is a domain error: a machine-readable code and a message safe to show
// to the client. Anything that is not an *Error is internal and its text is
// never shown.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err; internal errors get a
// generic text so that nothing of the implementation leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
