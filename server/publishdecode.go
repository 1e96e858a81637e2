package server

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/jsonutf8"
)

// decodePublish decodes a publish request as decodeJSON does, without
// its reflection: the publish API is the hot path of backends, and its
// body has four fields of fixed types. A body the direct reader is not
// sure of (an escape in a key or in channel or event, an unknown or
// repeated key, a wrong type, malformed JSON) goes to decodeJSON, which
// decides it and words its error: so the rules and messages stay those
// of every other endpoint, and only well-formed bodies take the short way.
func decodePublish(body []byte, req *publishRequest) error {
	if decodePublishDirect(body, req) {
		return nil
	}
	*req = publishRequest{}
	return decodeJSON(body, req)
}

// decodePublishDirect fills req and reports true only for a body that
// decodeJSON would accept with the same result; on false req is partly
// filled. data is copied: the body's memory is the server's again once the
// handler returned, and the event outlives it in the hub's queues.
func decodePublishDirect(body []byte, req *publishRequest) bool {
	if !utf8.Valid(body) {
		return false
	}
	r := publishReader{b: body}
	r.space()
	if !r.take('{') {
		return false
	}
	const (
		seenChannel = 1 << iota
		seenEvent
		seenData
		seenDurable
	)
	seen := 0
	r.space()
	if !r.take('}') {
		for {
			key, ok := r.plainString()
			if !ok {
				return false
			}
			var bit int
			switch string(key) { // no allocation: compared in place
			case "channel":
				bit = seenChannel
			case "event":
				bit = seenEvent
			case "data":
				bit = seenData
			case "durable":
				bit = seenDurable
			default:
				return false // unknown, a case variant, or the like
			}
			if seen&bit != 0 {
				return false // a duplicate
			}
			seen |= bit
			r.space()
			if !r.take(':') {
				return false
			}
			r.space()
			switch bit {
			case seenChannel, seenEvent:
				var s string
				switch {
				case r.literal("null"): // leaves the field as it is, as encoding/json does
				default:
					raw, ok := r.plainString()
					if !ok {
						return false
					}
					s = string(raw)
				}
				if bit == seenChannel {
					req.Channel = s
				} else {
					req.Event = s
				}
			case seenDurable:
				switch {
				case r.literal("true"):
					req.Durable = true
				case r.literal("false"), r.literal("null"):
				default:
					return false
				}
			case seenData:
				raw, ok := r.skipValue()
				// Valid: the skip only finds the value's end. CheckKeys:
				// data's keys are the client's own, but one given twice
				// is refused as everywhere.
				if !ok || !json.Valid(raw) || jsonutf8.CheckKeys(raw, nil) != nil {
					return false
				}
				req.Data = bytes.Clone(raw)
			}
			r.space()
			if r.take('}') {
				break
			}
			if !r.take(',') {
				return false
			}
			r.space()
		}
	}
	r.space()
	return r.i == len(r.b)
}

// publishReader reads the few tokens of a publish body; each method
// moves past what it accepted.
type publishReader struct {
	b []byte
	i int
}

func (r *publishReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *publishReader) take(c byte) bool {
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// literal takes word (true, false, null) if the input goes on with it,
// whatever follows: "nullx" leaves "x", which the caller's grammar then
// refuses (only space, ',' or '}' may come next).
func (r *publishReader) literal(word string) bool {
	if !bytes.HasPrefix(r.b[r.i:], []byte(word)) {
		return false
	}
	r.i += len(word)
	return true
}

// plainString takes a string token without escapes and returns its
// contents, which are then its value; one with an escape or a control
// character is left to encoding/json (false).
func (r *publishReader) plainString() ([]byte, bool) {
	if !r.take('"') {
		return nil, false
	}
	start := r.i
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			return r.b[start : r.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		r.i++
	}
	return nil, false
}

// skipValue takes the JSON value at r.i without checking it: objects and
// arrays to their closing bracket (strings inside skipped whole), other
// values to the next delimiter. The caller validates what it returns.
func (r *publishReader) skipValue() ([]byte, bool) {
	start := r.i
	depth := 0
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			for r.i < len(r.b) && r.b[r.i] != '"' {
				if r.b[r.i] == '\\' {
					r.i++
				}
				r.i++
			}
			if r.i >= len(r.b) {
				return nil, false
			}
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return r.b[start:r.i], r.i > start
			}
			depth--
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return r.b[start:r.i], r.i > start
		}
		r.i++
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return r.b[start:r.i], true
		}
	}
	return r.b[start:r.i], depth == 0 && r.i > start
}
