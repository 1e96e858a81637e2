package wire

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/jsonscan"
)

// The keys of ClientFrame, each a bit of the set readFrame has seen.
const (
	keyType = 1 << iota
	keyID
	keyChannel
	keySince
	keyOrderID
	keyText
	keyClientMsgID
	keySeq
	keyLat
	keyLng
	keyHeading
	keySpeed
	keyTs
	keyToken
)

// readFrame fills f from the JSON object b as json.Unmarshal would, without
// its reflection: a courier's position arrives every second on every
// courier's socket. It reports true only for a frame that json.Unmarshal
// decodes with that result and jsonutf8.CheckKeys accepts: valid UTF-8,
// each key of ClientFrame spelled exactly and given at most once, every
// value null or of its field's type, strings without escapes, integers
// without fraction or exponent and in range. Anything else, unknown keys
// included, is json.Unmarshal's to decide and word (false; f is then
// partly filled). The id is copied: b is the reader's buffer, reused for
// the next frame.
func readFrame(b []byte, f *ClientFrame) bool {
	if !utf8.Valid(b) {
		return false // encoding/json would replace the bytes in a string
	}
	r := jsonscan.NewReader(b)
	seen := 0
	return r.Object(func(name []byte) bool {
		key := frameKey(name)
		if key == 0 || seen&key != 0 {
			return false // unknown, a case variant, or a duplicate
		}
		seen |= key
		// null leaves the field as it is, as encoding/json does (zero: the
		// key was not seen before), and the id absent, as presentID would.
		return r.Literal("null") || readValue(&r, key, f)
	})
}

func frameKey(name []byte) int {
	switch string(name) { // no allocation: compared in place
	case "type":
		return keyType
	case "id":
		return keyID
	case "channel":
		return keyChannel
	case "since":
		return keySince
	case "order_id":
		return keyOrderID
	case "text":
		return keyText
	case "client_msg_id":
		return keyClientMsgID
	case "seq":
		return keySeq
	case "lat":
		return keyLat
	case "lng":
		return keyLng
	case "heading":
		return keyHeading
	case "speed":
		return keySpeed
	case "ts":
		return keyTs
	case "token":
		return keyToken
	}
	return 0
}

// readValue reads the value of key (not null) into f.
func readValue(r *jsonscan.Reader, key int, f *ClientFrame) bool {
	switch key {
	case keyType, keyChannel, keyText, keyClientMsgID, keyToken:
		s, ok := r.PlainString()
		if !ok {
			return false
		}
		switch key {
		case keyType:
			f.Type = frameType(s)
		case keyChannel:
			f.Channel = string(s)
		case keyText:
			f.Text = string(s)
		case keyClientMsgID:
			f.ClientMsgID = string(s)
		default:
			f.Token = string(s)
		}
	case keyID:
		// A string or a number, as the raw token; any other value is
		// checkID's to refuse, after json.Unmarshal.
		mark := r.Mark()
		if _, ok := plainStringOrNumber(r); !ok {
			return false
		}
		f.ID = bytes.Clone(r.Since(mark))
	case keyOrderID:
		// delivery.ID's UnmarshalJSON: "42" or 42, canonical.
		s, ok := plainStringOrNumber(r)
		if !ok {
			return false
		}
		id, err := delivery.ParseID(string(s))
		if err != nil {
			return false
		}
		f.OrderID = id
	case keySince, keySeq, keyTs:
		tok, ok := r.Number()
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(string(tok), 10, 64) // what encoding/json does for an int64
		if err != nil {
			return false
		}
		switch key {
		case keySince:
			f.Since = new(n)
		case keySeq:
			f.Seq = n
		default:
			f.Ts = n
		}
	default: // lat, lng, heading, speed
		tok, ok := r.Number()
		if !ok {
			return false
		}
		x, err := strconv.ParseFloat(string(tok), 64) // what encoding/json does for a float64
		if err != nil {
			return false
		}
		switch key {
		case keyLat:
			f.Lat = new(x)
		case keyLng:
			f.Lng = new(x)
		case keyHeading:
			f.Heading = new(x)
		default:
			f.Speed = new(x)
		}
	}
	return true
}

// plainStringOrNumber takes a string without escapes or a number and
// returns the string's contents or the number.
func plainStringOrNumber(r *jsonscan.Reader) ([]byte, bool) {
	if r.Peek() == '"' {
		return r.PlainString()
	}
	return r.Number()
}

// frameType is s as a string, without allocating one for the types of the
// contract.
func frameType(s []byte) string {
	for _, t := range frameTypes {
		if string(s) == t {
			return t
		}
	}
	return string(s)
}

var frameTypes = [...]string{TypeLocation, TypeSubscribe, TypeUnsubscribe, TypeChat, TypeTyping, TypeRead, TypeAuth}
