package delivery

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
)

// ID identifies users, restaurants, menu items and orders. It is a positive
// integer in the database and a decimal string on the wire ("42"), because
// browser JavaScript loses precision on large integers. Decoding accepts a
// JSON number too, for clients that send one.
type ID int64

func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// MarshalJSON encodes the ID as a JSON string.
func (id ID) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(id), 10)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts "42" or 42. Anything else is a
// *json.UnmarshalTypeError, which encoding/json completes with the field
// name so that the caller's error message can name it.
func (id *ID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := b
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		s = b[1 : len(b)-1]
	}
	v, err := ParseID(string(s))
	if err != nil {
		return &json.UnmarshalTypeError{Value: "value " + Truncate(string(b), 32), Type: reflect.TypeFor[ID]()}
	}
	*id = v
	return nil
}

// ParseID parses a positive decimal ID in canonical form only: no sign,
// no leading zeros ("+2" and "02" are refused), so that one order has one
// spelling in URLs, logs and idempotency keys.
func ParseID(s string) (ID, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || s[0] == '+' || s[0] == '0' {
		return 0, Errorf(EINVALID, "invalid id %q", Truncate(s, 32))
	}
	return ID(v), nil
}

// Truncate shortens s to n bytes for an error message that quotes input.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
