package ops

import (
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// DefaultErrorRing is how many errors an instance keeps.
const DefaultErrorRing = 20

// maxErrorMessage bounds a kept message, in bytes.
const maxErrorMessage = 200

// ErrorRing keeps the last error-level log messages of an instance, as a
// zerolog hook (zerolog.Logger.Hook). It keeps the time and the message
// only: a hook never sees an event's fields, which may carry ids, and
// the messages of this code base are fixed strings without personal data.
type ErrorRing struct {
	mu   sync.Mutex
	buf  []Error // a ring: next is the oldest once full
	next int
	full bool
}

var _ zerolog.Hook = (*ErrorRing)(nil)

// NewErrorRing returns a ring of n errors.
func NewErrorRing(n int) *ErrorRing { return &ErrorRing{buf: make([]Error, max(n, 1))} }

// Run keeps msg when level is error or worse.
func (r *ErrorRing) Run(_ *zerolog.Event, level zerolog.Level, msg string) {
	if level < zerolog.ErrorLevel || level > zerolog.PanicLevel {
		return
	}
	if len(msg) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	e := Error{At: time.Now().UTC(), Message: msg}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = e
	r.next = (r.next + 1) % len(r.buf)
	r.full = r.full || r.next == 0
}

// Last returns the kept errors, newest first (never nil).
func (r *ErrorRing) Last() []Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]Error, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}
