package wire_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// Every close reason fits a close frame (125 bytes with its 2-byte code),
// uses a code of API.md, and has a name of its own for logs.
func TestCloseReasons(t *testing.T) {
	codes := map[int]bool{wire.CloseInternal: true, wire.CloseRestart: true, wire.CloseTokenExpired: true,
		wire.CloseForbidden: true, wire.CloseRateLimited: true, wire.CloseSlow: true}
	names := map[string]bool{}
	for _, r := range []wire.CloseReason{wire.ReasonRestart, wire.ReasonTokenExpired, wire.ReasonSessionEnded,
		wire.ReasonOtherUser, wire.ReasonRateLimited, wire.ReasonSlow, wire.ReasonResume} {
		if !codes[r.Code] || r.Text == "" || len(r.Text) > 123 || r.Name == "" || names[r.Name] {
			t.Errorf("close reason %+v", r)
		}
		names[r.Name] = true
	}
}

// The error codes a frame can meet keep their names (one vocabulary for
// REST and websocket clients); a token reused is unauthorized there, and
// anything else is internal.
func TestFrameCode(t *testing.T) {
	for domain, frame := range map[string]string{
		delivery.EINVALID: "invalid", delivery.EFORBIDDEN: "forbidden", delivery.ENOTFOUND: "not_found",
		delivery.EUNAUTHORIZED: "unauthorized", delivery.ETOKENREUSED: "unauthorized",
		delivery.ECHATCLOSED: "chat_closed", delivery.ERATELIMITED: "rate_limited", delivery.EUNPROCESSABLE: "unprocessable",
		delivery.EIDEMPOTENCY: "idempotency_mismatch", delivery.EUNAVAILABLE: "unavailable",
		wire.CodeBadFrame: "bad_frame", wire.CodeUnknownType: "unknown_type", wire.CodeTooManySubscriptions: "too_many_subscriptions",
		delivery.EINTERNAL: "internal", delivery.EMETHOD: "internal", delivery.EEMAILTAKEN: "internal", "no such code": "internal",
	} {
		if got := wire.FrameCode(domain); got != frame {
			t.Errorf("FrameCode(%q) = %q, want %q", domain, got, frame)
		}
	}
}
