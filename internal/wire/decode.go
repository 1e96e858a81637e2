package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/jsonutf8"
)

// MaxIDLen bounds the id a client may attach to a frame; it is echoed in
// the answer, so it must stay small.
const MaxIDLen = 64

// ClientFrame is any client frame (API.md, "Client → server"); which
// fields matter depends on Type. Unknown fields are ignored, so that an
// older server keeps working with a newer client.
type ClientFrame struct {
	Type string `json:"type"`
	// ID is the frame's raw JSON id (a string or a number), echoed in the
	// ack or error that answers the frame; nil when the frame had none.
	ID          json.RawMessage `json:"id,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	Since       *int64          `json:"since,omitempty"`
	OrderID     delivery.ID     `json:"order_id,omitempty"`
	Text        string          `json:"text,omitempty"`
	ClientMsgID string          `json:"client_msg_id,omitempty"`
	Seq         int64           `json:"seq,omitempty"`
	Lat         *float64        `json:"lat,omitempty"`
	Lng         *float64        `json:"lng,omitempty"`
	Heading     *float64        `json:"heading,omitempty"`
	Speed       *float64        `json:"speed,omitempty"`
	Ts          int64           `json:"ts,omitempty"`
	Token       string          `json:"token,omitempty"`
}

var clientFrameType = reflect.TypeFor[ClientFrame]()

// known lists the client frame types of the contract.
var known = map[string]bool{
	TypeSubscribe: true, TypeUnsubscribe: true, TypeChat: true, TypeTyping: true,
	TypeRead: true, TypeLocation: true, TypeAuth: true,
}

// Decode parses one client frame. On error it still returns the frame's
// id when it could be read, so that the error frame answers the right
// request. Errors are *delivery.Error with a Code* of this package. A
// sound frame is read without reflection (readFrame); any other goes
// through encoding/json, which decides it and words its error.
func Decode(b []byte) (ClientFrame, error) { return decode(b, true) }

// decode is Decode; without direct, every frame goes through
// encoding/json, which the tests compare the direct reader with.
func decode(b []byte, direct bool) (ClientFrame, error) {
	var f ClientFrame
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		if len(b) > 0 && !json.Valid(b) {
			return f, delivery.Errorf(CodeBadFrame, "malformed JSON")
		}
		return f, delivery.Errorf(CodeBadFrame, "frame must be a JSON object")
	}
	read := direct && readFrame(b, &f)
	if !read {
		var u ClientFrame // not f, which would then live on the heap
		if err := json.Unmarshal(b, &u); err != nil {
			return unmarshalError(b, err)
		}
		f = u
	}
	if err := checkID(f.ID); err != nil {
		return ClientFrame{}, err
	}
	f.ID = presentID(f.ID)
	// Before any field is looked at: "Type" or a second "text" would be
	// decoded into the field that the checks below read by its exact key.
	// readFrame took each key only once and only as spelled.
	if !read {
		if err := jsonutf8.CheckKeys(b, clientFrameType); err != nil {
			return f, delivery.Errorf(CodeInvalid, "%s", err)
		}
	}
	switch {
	case f.Type == "":
		return f, delivery.Errorf(CodeInvalid, "type: required")
	case !known[f.Type]:
		return f, delivery.Errorf(CodeUnknownType, "type: unknown frame type %q", delivery.Truncate(f.Type, 32))
	}
	if err := f.validate(); err != nil {
		return f, err
	}
	if f.Type == TypeChat {
		// The same check as REST: the decoder above replaced bytes that
		// are not UTF-8, so the raw frame is looked at.
		if field := jsonutf8.FirstInvalid(b, "text", "client_msg_id"); field != "" {
			return f, delivery.Errorf(CodeInvalid, "%s: must be valid UTF-8", field)
		}
	}
	return f, nil
}

// unmarshalError is the error frame of a frame json.Unmarshal refused. A
// sound frame is parsed once; only a bad one is read again, for the id
// its error frame must answer (a field's error may stop decoding before
// the id).
func unmarshalError(b []byte, err error) (ClientFrame, error) {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return ClientFrame{}, delivery.Errorf(CodeBadFrame, "malformed JSON at byte %d", se.Offset)
	}
	var env struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(b, &env) // well-formed: the parse found no syntax error
	if idErr := checkID(env.ID); idErr != nil {
		return ClientFrame{}, idErr
	}
	return ClientFrame{ID: presentID(env.ID)}, fieldError(err)
}

// presentID is the id to echo: none for an absent or null id.
func presentID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 || bytes.Equal(id, []byte("null")) {
		return nil
	}
	return id
}

// checkID accepts a string or number id of at most MaxIDLen bytes.
func checkID(id json.RawMessage) error {
	if len(id) == 0 || bytes.Equal(id, []byte("null")) {
		return nil
	}
	if len(id) > MaxIDLen {
		return delivery.Errorf(CodeInvalid, "id: at most %d bytes", MaxIDLen)
	}
	if !utf8.Valid(id) {
		// It is echoed in the answer, which must be a valid text frame.
		return delivery.Errorf(CodeInvalid, "id: must be valid UTF-8")
	}
	c := id[0]
	if c != '"' && c != '-' && (c < '0' || c > '9') {
		return delivery.Errorf(CodeInvalid, "id: must be a string or a number")
	}
	return nil
}

// validate checks the fields the frame's type requires.
func (f *ClientFrame) validate() error {
	switch f.Type {
	case TypeSubscribe, TypeUnsubscribe:
		if f.Channel == "" {
			return delivery.Errorf(CodeInvalid, "channel: required")
		}
		if f.Since != nil && *f.Since < 0 {
			return delivery.Errorf(CodeInvalid, "since: must not be negative")
		}
	case TypeAuth:
		if f.Token == "" {
			return delivery.Errorf(CodeInvalid, "token: required")
		}
	case TypeChat, TypeTyping, TypeRead:
		if f.OrderID == 0 {
			return delivery.Errorf(CodeInvalid, "order_id: required")
		}
	}
	return nil
}

// fieldError names the field of a type error, like the REST decoder.
func fieldError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return delivery.Errorf(CodeInvalid, "%s: must be %s", te.Field, DescribeType(te.Type))
	case errors.As(err, &se):
		return delivery.Errorf(CodeBadFrame, "malformed JSON at byte %d", se.Offset)
	}
	return delivery.Errorf(CodeInvalid, "invalid frame")
}

// DescribeType says what a JSON value decoded into t must be, for error
// messages of the websocket and REST decoders alike.
func DescribeType(t reflect.Type) string {
	if t == reflect.TypeFor[delivery.ID]() {
		return "an id (a positive integer)"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}
