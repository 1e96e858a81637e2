package sessions

import (
	"github.com/ordercast/ordercast/internal/control"
	"github.com/ordercast/ordercast/internal/delivery"
)

// Bus returns b with the ControlChannel taken out of it: give the result
// to the hub. Its Start subscribes the ControlChannel (retrying in the
// background until the backend answers) and hands that channel's messages
// to the list instead of the hub; after a gap it also reads the store at
// once. Meanwhile the list's periodic read covers what is missed. The
// list's Announce then publishes on b.
func (l *List) Bus(b delivery.Bus) delivery.Bus {
	l.mu.Lock()
	l.bus = b
	l.mu.Unlock()
	return control.Bus(b, control.Listener{Channel: ControlChannel, Message: l.received, Gap: l.refreshNow, Done: l.stop}, l.log)
}
