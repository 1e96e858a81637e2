package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/delivery"
)

// decodeJSON decodes one JSON object from body into v. Unknown fields,
// wrong types, trailing data and malformed JSON are EINVALID errors whose
// message names the field or the offset, so a client can fix its request.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return delivery.Errorf(delivery.EINVALID, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return delivery.Errorf(delivery.EINVALID, "request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var domainErr *delivery.Error
	switch {
	case errors.As(err, &syntaxErr):
		return delivery.Errorf(delivery.EINVALID, "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return delivery.Errorf(delivery.EINVALID, "request body must be a JSON object")
		}
		if typeErr.Type == reflect.TypeFor[delivery.ID]() {
			return delivery.Errorf(delivery.EINVALID, "%s: must be an id (a positive integer)", typeErr.Field)
		}
		return delivery.Errorf(delivery.EINVALID, "%s: must be %s", typeErr.Field, describeType(typeErr.Type.Kind().String()))
	case errors.As(err, &domainErr):
		return domainErr
	case errors.Is(err, io.ErrUnexpectedEOF):
		return delivery.Errorf(delivery.EINVALID, "malformed JSON: unexpected end of input")
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return delivery.Errorf(delivery.EINVALID, "%s: unknown field", strings.Trim(field, `"`))
	}
	return delivery.Errorf(delivery.EINVALID, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func describeType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return fmt.Sprintf("a %s", kind)
}

// checkUTF8Fields refuses a body whose named string fields are not valid
// UTF-8 as sent. encoding/json silently turns invalid bytes and lone
// surrogate escapes ("\ud800") into U+FFFD, which would store text the
// client never wrote; for free text the client must hear about it, with
// the field named. Call it after decodeJSON accepted the body.
func checkUTF8Fields(body []byte, fields ...string) error {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return nil // decodeJSON has answered for the body's shape
	}
	for _, f := range fields {
		if r, ok := raw[f]; ok && !sentAsUTF8(r) {
			return delivery.Errorf(delivery.EINVALID, "%s: must be valid UTF-8", f)
		}
	}
	return nil
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
