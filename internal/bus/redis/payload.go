package redis

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"github.com/ordercast/ordercast/internal/delivery"
)

// A payload on Redis is
//
//	version 1 (1 byte) | origin instance (8 bytes) | seq (8 bytes, big endian) | frame
//	version 2 (1 byte) | origin | seq | except (8 bytes) | as-of (8 bytes) | frame
//	version 3 (1 byte) | origin | seq | except | as-of | revoke (8 bytes) | courier (8 bytes) | frame
//	version 4 (1 byte) | origin | seq | except | as-of | revoke | courier | expires (8 bytes) | frame
//
// The frame travels as it is, encoded once by the publishing hub. Versions
// 2 and 3 carry the conditions of a message (delivery.BusMessage Except,
// AsOf; Revoke, Courier; Expires) and are written only when it has some,
// so that during a rolling upgrade older instances miss only those
// (typing, positions, unassigns, the end of a tracked order; a missed
// unassign reaches their subscribers from the Store with the order's next
// event).
const (
	payloadVersion = 1
	payloadCond    = 2
	payloadCond3   = 3
	payloadCond4   = 4
	originLen      = 8
	headerLen      = 1 + originLen + 8
	condLen        = 16
	cond3Len       = 32
	cond4Len       = 40
)

func appendPayload(dst []byte, origin [originLen]byte, msg delivery.BusMessage) []byte {
	version := byte(payloadVersion)
	switch {
	case msg.Expires != 0:
		version = payloadCond4
	case msg.Revoke != 0 || msg.Courier != 0:
		version = payloadCond3
	case msg.Except != 0 || msg.AsOf != 0:
		version = payloadCond
	}
	dst = append(dst, version)
	dst = append(dst, origin[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(msg.Seq))
	if version != payloadVersion {
		dst = binary.BigEndian.AppendUint64(dst, uint64(msg.Except))
		dst = binary.BigEndian.AppendUint64(dst, uint64(msg.AsOf))
	}
	if version >= payloadCond3 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(msg.Revoke))
		dst = binary.BigEndian.AppendUint64(dst, uint64(msg.Courier))
	}
	if version == payloadCond4 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(msg.Expires))
	}
	return append(dst, msg.Frame...)
}

// parsed is a payload split without copying: origin and frame are parts
// of the payload string.
type parsed struct {
	origin  string
	seq     int64
	except  delivery.ID
	asOf    int64
	revoke  delivery.ID
	courier delivery.ID
	expires int64
	frame   string
}

func parsePayload(p string) (parsed, bool) {
	if len(p) < headerLen || p[0] < payloadVersion || p[0] > payloadCond4 {
		return parsed{}, false
	}
	out := parsed{origin: p[1 : 1+originLen], seq: int64(beUint64(p[1+originLen : headerLen])), frame: p[headerLen:]}
	if p[0] >= payloadCond {
		if len(p) < headerLen+condLen {
			return parsed{}, false
		}
		out.except = delivery.ID(beUint64(p[headerLen : headerLen+8]))
		out.asOf = int64(beUint64(p[headerLen+8 : headerLen+condLen]))
		out.frame = p[headerLen+condLen:]
	}
	if p[0] >= payloadCond3 {
		if len(p) < headerLen+cond3Len {
			return parsed{}, false
		}
		out.revoke = delivery.ID(beUint64(p[headerLen+condLen : headerLen+condLen+8]))
		out.courier = delivery.ID(beUint64(p[headerLen+condLen+8 : headerLen+cond3Len]))
		out.frame = p[headerLen+cond3Len:]
	}
	if p[0] == payloadCond4 {
		if len(p) < headerLen+cond4Len {
			return parsed{}, false
		}
		out.expires = int64(beUint64(p[headerLen+cond3Len : headerLen+cond4Len]))
		out.frame = p[headerLen+cond4Len:]
	}
	return out, true
}

func beUint64(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

// busMessage makes the frame a byte slice over the string's memory
// instead of copying it: receivers must not modify Frame (delivery.BusMessage),
// so the string's immutability is kept, and the fan-out path allocates
// nothing of its own per message.
func busMessage(channel string, p parsed) delivery.BusMessage {
	return delivery.BusMessage{Channel: channel, Seq: p.seq, Except: p.except, AsOf: p.asOf, Revoke: p.revoke, Courier: p.courier, Expires: p.expires,
		Frame: unsafe.Slice(unsafe.StringData(p.frame), len(p.frame))}
}

// originKey is the origin as parsePayload returns it; comparing strings
// of equal length does not allocate.
func (b *Bus) originKey() string { return unsafe.String(&b.origin[0], originLen) }

// buffers are reused for outgoing payloads: go-redis has written a
// command out by the time Publish returns.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= 64<<10 { // one huge frame must not pin its buffer forever
		buffers.Put(b)
	}
}
