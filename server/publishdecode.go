package server

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/jsonscan"
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
	r := jsonscan.NewReader(body)
	r.Space()
	const (
		seenChannel = 1 << iota
		seenEvent
		seenData
		seenDurable
	)
	seen := 0
	return r.Object(func(key []byte) bool {
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
		switch bit {
		case seenChannel, seenEvent:
			var s string
			switch {
			case r.Literal("null"): // leaves the field as it is, as encoding/json does
			default:
				raw, ok := r.PlainString()
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
			case r.Literal("true"):
				req.Durable = true
			case r.Literal("false"), r.Literal("null"):
			default:
				return false
			}
		case seenData:
			raw, ok := r.SkipValue()
			// Valid: the skip only finds the value's end. CheckKeys:
			// data's keys are the client's own, but one given twice
			// is refused as everywhere.
			if !ok || !json.Valid(raw) || jsonutf8.CheckKeys(raw, nil) != nil {
				return false
			}
			req.Data = bytes.Clone(raw)
		}
		return true
	})
}
