package wire

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/delivery"
)

// AppendEvent appends the event frame
//
//	{"type":"event","channel":…,"event":…,"seq":…,"data":…,"ts":…}
//
// to dst. seq 0 (ephemeral) is left out. data must be valid JSON (it is
// copied as it is); nil data is encoded as null. ts is Unix milliseconds.
func AppendEvent(dst []byte, channel, event string, seq int64, data []byte, ts int64) []byte {
	return AppendFeedEvent(dst, channel, event, 0, seq, data, ts)
}

// AppendFeedEvent is AppendEvent for an order's event on a feed channel,
// which carries events of many orders: the frame names the order,
//
//	{"type":"event","channel":…,"event":…,"order_id":"42","seq":…,"data":…,"ts":…}
//
// so that a receiver tells (order, seq) apart without reading data. order
// 0 leaves it out.
func AppendFeedEvent(dst []byte, channel, event string, order delivery.ID, seq int64, data []byte, ts int64) []byte {
	dst = append(dst, eventHead...)
	dst = AppendString(dst, channel)
	dst = append(dst, eventField...)
	dst = AppendString(dst, event)
	if order != 0 {
		dst = append(dst, orderField...)
		dst = strconv.AppendInt(dst, int64(order), 10)
		dst = append(dst, '"')
	}
	if seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendInt(dst, seq, 10)
	}
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, '}')
}

// The fields of an event frame before its names; EventNames reads them back.
const (
	eventHead  = `{"type":"event","channel":`
	eventField = `,"event":`
	orderField = `,"order_id":"`
)

// EventNames returns the channel and event names of a frame built by
// AppendEvent, as they are encoded (JSON escapes left in: the names of
// the contract have none); ok is false for any other frame (an ack, an
// error). It reads only the head of the frame, not its data.
func EventNames(frame []byte) (channel, event []byte, ok bool) {
	channel, event, _, ok = splitEvent(frame)
	return channel, event, ok
}

// EventSeq returns the seq of a frame built by AppendEvent: 0 for an
// ephemeral event or any other frame.
func EventSeq(frame []byte) int64 {
	_, _, rest, ok := splitEvent(frame)
	if !ok {
		return 0
	}
	if r, ok := bytes.CutPrefix(rest, []byte(orderField)); ok {
		_, rest, _ = bytes.Cut(r, []byte{'"'})
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
		return 0
	}
	return leadingInt(rest)
}

// leadingInt reads the decimal digits at the front of b.
func leadingInt(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// EventOrder reads back the order a feed event frame names
// (AppendFeedEvent); 0 for a frame that names none.
func EventOrder(frame []byte) delivery.ID {
	_, _, rest, ok := splitEvent(frame)
	if !ok {
		return 0
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(orderField)); !ok {
		return 0
	}
	return delivery.ID(leadingInt(rest))
}

// EventData returns the data of a frame built by AppendEvent or
// AppendFeedEvent, as it was encoded; ok is false for any other frame.
func EventData(frame []byte) (data []byte, ok bool) {
	_, _, rest, ok := splitEvent(frame)
	if !ok {
		return nil, false
	}
	if r, ok := bytes.CutPrefix(rest, []byte(orderField)); ok {
		_, rest, _ = bytes.Cut(r, []byte{'"'})
	}
	if r, ok := bytes.CutPrefix(rest, []byte(`,"seq":`)); ok {
		rest = bytes.TrimLeft(r, "0123456789")
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"data":`)); !ok {
		return nil, false
	}
	// The frame ends with its ts, after the data.
	i := bytes.LastIndex(rest, []byte(`,"ts":`))
	if i < 0 || len(rest) == 0 || rest[len(rest)-1] != '}' {
		return nil, false
	}
	return rest[:i], true
}

// splitEvent splits the names off the front of an event frame.
func splitEvent(frame []byte) (channel, event, rest []byte, ok bool) {
	rest, ok = bytes.CutPrefix(frame, []byte(eventHead))
	if !ok {
		return nil, nil, nil, false
	}
	if channel, rest, ok = cutString(rest); !ok {
		return nil, nil, nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(eventField)); !ok {
		return nil, nil, nil, false
	}
	if event, rest, ok = cutString(rest); !ok {
		return nil, nil, nil, false
	}
	return channel, event, rest, true
}

// cutString splits a JSON string off the front of b: its contents, and
// what follows it.
func cutString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte cannot end the string
		case '"':
			return b[1:i], b[i+1:], true
		}
	}
	return nil, nil, false
}

// AppendAck appends {"type":"ack","id":…}; id is the raw JSON id of the
// client frame, echoed as it came.
func AppendAck(dst []byte, id []byte) []byte {
	dst = append(dst, `{"type":"ack","id":`...)
	dst = append(dst, id...)
	return append(dst, '}')
}

// AppendAckSeq appends {"type":"ack","id":…,"seq":…}: the ack of a chat
// frame names the seq its message got (the same on a retry).
func AppendAckSeq(dst []byte, id []byte, seq int64) []byte {
	dst = append(dst, `{"type":"ack","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	return append(dst, '}')
}

// AppendError appends {"type":"error","id":…,"code":…,"message":…}; the
// id is left out when the frame had none (or none could be read).
func AppendError(dst []byte, id []byte, code, message string) []byte {
	dst = append(dst, `{"type":"error"`...)
	if len(id) > 0 {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	dst = append(dst, `,"code":`...)
	dst = AppendString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, message)
	return append(dst, '}')
}

// AppendUnsubscribed appends {"type":"unsubscribed","channel":…,"code":…}:
// the server ended the connection's subscription to channel (code says
// why, forbidden for a courier unassigned from the order); nothing more
// of that channel follows.
func AppendUnsubscribed(dst []byte, channel, code string) []byte {
	dst = append(dst, `{"type":"unsubscribed","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"code":`...)
	dst = AppendString(dst, code)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so the frame is always valid JSON and UTF-8 (a
// browser closes the socket on a text frame that is not).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
