package redis

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"github.com/ordercast/ordercast/internal/delivery"
)

// A payload on Redis is
//
//	version (1 byte) | origin instance (8 bytes) | seq (8 bytes, big endian) | frame
//
// The frame travels as it is, encoded once by the publishing hub.
const (
	payloadVersion = 1
	originLen      = 8
	headerLen      = 1 + originLen + 8
)

func appendPayload(dst []byte, origin [originLen]byte, seq int64, frame []byte) []byte {
	dst = append(dst, payloadVersion)
	dst = append(dst, origin[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(seq))
	return append(dst, frame...)
}

// parsePayload splits a payload without copying: origin and frame are
// parts of p.
func parsePayload(p string) (origin string, seq int64, frame string, ok bool) {
	if len(p) < headerLen || p[0] != payloadVersion {
		return "", 0, "", false
	}
	var s [8]byte
	copy(s[:], p[1+originLen:headerLen])
	return p[1 : 1+originLen], int64(binary.BigEndian.Uint64(s[:])), p[headerLen:], true
}

// busMessage makes the frame a byte slice over the string's memory
// instead of copying it: receivers must not modify Frame (delivery.BusMessage),
// so the string's immutability is kept, and the fan-out path allocates
// nothing of its own per message.
func busMessage(channel string, seq int64, frame string) delivery.BusMessage {
	return delivery.BusMessage{Channel: channel, Seq: seq, Frame: unsafe.Slice(unsafe.StringData(frame), len(frame))}
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
