// Package jsonutf8 catches what encoding/json lets through silently in a
// client's JSON, where the client must hear about it with the field named:
//
//   - invalid UTF-8: encoding/json turns invalid bytes and lone surrogate
//     escapes ("\ud800") into U+FFFD, which would store text the client
//     never wrote (FirstInvalid);
//   - keys it matches loosely: a key given twice (the last wins) and a case
//     variant of a field's name ("Text" fills text), which would let the
//     check above, reading the exact key, be bypassed (CheckKeys).
//
// The REST decoder and the websocket frame decoder share these checks.
package jsonutf8

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// FirstInvalid returns the first of fields whose string value in the
// JSON object obj was not valid UTF-8 as sent, or "" when all were (or
// obj is no object: its decoder answers for its shape).
func FirstInvalid(obj []byte, fields ...string) string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(obj, &raw) != nil {
		return ""
	}
	for _, f := range fields {
		if r, ok := raw[f]; ok && !sentAsUTF8(r) {
			return f
		}
	}
	return ""
}

// sentAsUTF8 reports whether the JSON string token r decodes without
// replacement: its bytes are UTF-8 and every U+FFFD of the decoded value
// was sent as one (the character itself or its \ufffd escape).
func sentAsUTF8(r json.RawMessage) bool {
	var s string
	if !utf8.Valid(r) || json.Unmarshal(r, &s) != nil {
		return false
	}
	return strings.Count(s, "\uFFFD") == sentReplacements(string(r))
}

// sentReplacements counts the U+FFFD a valid UTF-8 JSON string token
// carries on purpose: the character itself and \ufffd escapes (a "\\"
// escape is skipped whole, so "\\ufffd" counts nothing).
func sentReplacements(tok string) int {
	n := 0
	for i := 0; i < len(tok); i++ {
		switch {
		case tok[i] == '\\' && i+1 < len(tok) && tok[i+1] == 'u':
			if i+6 <= len(tok) && strings.EqualFold(tok[i+2:i+6], "fffd") {
				n++
			}
			i += 5
		case tok[i] == '\\':
			i++ // the escaped character
		case strings.HasPrefix(tok[i:], "\uFFFD"):
			n++
		}
	}
	return n
}
