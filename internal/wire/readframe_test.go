package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/jsonutf8"
)

// soundFrames are frames readFrame must take: every type, ids as strings
// and numbers, numbers at the edges of float64 and int64, whitespace.
var soundFrames = []string{
	`{"type":"location","lat":52.5123,"lng":13.4,"ts":1796317757302}`,
	`{"type":"location","lat":-33.8688,"lng":151.2093,"heading":270.5,"speed":8.3,"ts":1796317757302,"id":17}`,
	`{"type":"location","lat":0,"lng":-0,"heading":0,"speed":0e0,"ts":1}`,
	`{"type":"location","lat":1E-7,"lng":1.5e+2,"heading":360,"speed":1e308,"ts":9223372036854775807}`,
	`{"type":"location","lat":52.51230000000000000000000000000000000001,"lng":13.39999999999999999999,"ts":1}`,
	`{"type":"location","lat":4.9406564584124654e-324,"lng":2.2250738585072014e-308,"heading":1e-400,"ts":-9223372036854775808}`,
	`{"type":"location","lat":91,"lng":13.4}`,
	`{"type":"subscribe","id":"1","channel":"order:42","since":17}`,
	`{"type":"subscribe","id":"sub-7","channel":"track:01HZY3NQ4W8M1T6X0V5B2C7D9E"}`,
	`{"type":"unsubscribe","id":3,"channel":"order:42","since":0}`,
	`{"type":"unsubscribe","id":-1.5e3,"channel":"user:7","since":null}`,
	`{"type":"subscribe","channel":"order:1","since":-0}`,
	`{"type":"chat","id":"c1","order_id":"42","text":"at the door","client_msg_id":"m-1"}`,
	"{\"type\":\"chat\",\"id\":\"c2\",\"order_id\":42,\"text\":\"日本 é \uFFFD \u2028\x7f\",\"client_msg_id\":\"\"}",
	`{"type":"typing","order_id":"42"}`,
	`{"type":"read","id":"r","order_id":"9223372036854775807","seq":12}`,
	`{"type":"auth","id":9,"token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}`,
	`{"type":"auth","id":null,"token":"t"}`,
	` {"type" : "subscribe" ,` + "\n\t" + `"channel":"order:1"}` + "\r\n",
	"\u00a0{\"type\":\"typing\",\"order_id\":1}\u0085",
	`{"id":"1","type":null,"channel":null,"since":null,"order_id":null,"text":null,"client_msg_id":null,"seq":null,"lat":null,"lng":null,"heading":null,"speed":null,"ts":null,"token":null}`,
	`{}`,
	`{ }`,
	// Sound, and refused by the checks after the decode.
	`{"type":"dance","id":"1"}`,
	`{"type":"` + strings.Repeat("x", 40) + `"}`,
	`{"type":"","id":"x"}`,
	`{"type":"subscribe","channel":"order:1","since":-1}`,
	`{"type":"subscribe","id":0}`,
	`{"type":"typing"}`,
	`{"type":"auth","id":""}`,
	`{"type":"auth","id":"` + strings.Repeat("x", 70) + `"}`,
	`{"type":"auth","id":` + strings.Repeat("1", 65) + `}`,
}

// otherFrames are left to encoding/json: each is refused there, or has
// something readFrame does not take (an escape, an unknown key).
var otherFrames = []string{
	``, ` `, `null`, `[]`, `"x"`, `{`, `}`, `{"type"}`, `{"type":}`, `{"type" "x"}`, `{"type":"x",}`, `{,}`,
	`{"type":"x" "id":1}`, `{"type":"x"}x`, `{"type":"x"}{}`, `{"type":"x"}` + "\x00", "\ufeff{}",
	`{"ts":nul}`, `{"ts":nullx}`, `{"ts":1x}`, `{"ts":1 2}`, `{"type":"x","extra":1}`, `{"type":"x","extra":{"a":[1]}}`,
	`{"Type":"chat"}`, `{"TYPE":"x"}`, `{"type":"a","type":"b"}`, `{"typ\u0065":"x"}`, "{\"ſeq\":1}", "{\"to\u212Aen\":\"t\"}",
	`{"type":"location","lat":"52","lng":13.4,"ts":1}`, `{"type":"location","lat":true}`, `{"type":"location","lat":[1]}`,
	`{"type":"location","lat":1e400}`, `{"type":"location","lat":-1e400}`, `{"type":"location","lat":01}`, `{"type":"location","lat":.5}`,
	`{"type":"location","lat":-}`, `{"type":"location","lat":1.}`, `{"type":"location","lat":1e}`, `{"type":"location","lat":1e+}`,
	`{"type":"location","lat":NaN}`, `{"type":"location","lat":Infinity}`, `{"type":"location","lat":0x10}`, `{"type":"location","lat":+1}`,
	`{"type":"unsubscribe","channel":"x","since":1.5}`, `{"type":"unsubscribe","channel":"x","since":1e3}`,
	`{"type":"unsubscribe","channel":"x","since":1.0}`, `{"type":"unsubscribe","channel":"x","since":"1"}`,
	`{"type":"location","ts":9223372036854775808}`, `{"type":"location","ts":-9223372036854775809}`, `{"type":"read","seq":true}`,
	`{"type":"typing","order_id":"042"}`, `{"type":"typing","order_id":"+42"}`, `{"type":"typing","order_id":0}`,
	`{"type":"typing","order_id":-4}`, `{"type":"typing","order_id":4.2e1}`, `{"type":"typing","order_id":"4\u0032"}`,
	`{"type":"typing","order_id":""}`, `{"type":"typing","order_id":"9223372036854775808"}`, `{"type":"typing","order_id":true}`,
	`{"type":"typing","order_id":"abc"}`, `{"type":"typing","order_id":[42]}`,
	`{"type":"chat","order_id":"1","text":"a\nb"}`, "{\"type\":\"chat\",\"order_id\":\"1\",\"text\":\"a\tb\"}",
	`{"type":"chat","order_id":"1","text":"\ud800"}`, "{\"type\":\"chat\",\"order_id\":\"1\",\"text\":\"\xff\"}",
	"{\"type\":\"chat\",\"order_id\":\"1\",\"client_msg_id\":\"\xc3\"}", `{"type":"chat","text":7}`,
	`{"type":"x","id":true}`, `{"type":"x","id":{"a":1}}`, `{"type":"x","id":[1]}`, `{"id":"\u0031","type":"auth","token":"t"}`,
	"{\"type\":\"auth\",\"id\":\"\xff\"}", `{"type":"subscribe","channel":["x"]}`, `{"type":7}`,
}

// TestDecodeDirectMatchesEncodingJSON: Decode answers every frame as it
// does through encoding/json alone (the frame and the error), and
// readFrame takes only what json.Unmarshal and CheckKeys accept, with the
// same frame. Variants of the frames above (a byte deleted, doubled or
// replaced by one that matters to JSON) widen the corpus.
func TestDecodeDirectMatchesEncodingJSON(t *testing.T) {
	const significant = "{}[]\":,\\ tfn0-+.eEu\x00\xff"
	n, direct := 0, 0
	for _, frame := range append(soundFrames, otherFrames...) {
		for i := 0; i <= len(frame) && i < 200; i++ {
			variants := []string{frame}
			if i < len(frame) {
				variants = append(variants, frame[:i]+frame[i+1:], frame[:i]+frame[i:i+1]+frame[i:])
				for _, c := range []byte(significant) {
					variants = append(variants, frame[:i]+string(c)+frame[i+1:])
				}
			}
			for _, v := range variants {
				if checkDecode(t, []byte(v)) {
					direct++
				}
				n++
			}
		}
	}
	t.Logf("%d frames, %d read directly", n, direct)
}

// TestReadFrameTakesSoundFrames: the frames of the contract do not go
// through reflection.
func TestReadFrameTakesSoundFrames(t *testing.T) {
	for _, frame := range soundFrames {
		var f ClientFrame
		if !readFrame(bytes.TrimSpace([]byte(frame)), &f) {
			t.Errorf("%s: left to encoding/json", frame)
		}
	}
	for _, frame := range otherFrames {
		var f ClientFrame
		if readFrame(bytes.TrimSpace([]byte(frame)), &f) {
			t.Errorf("%s: read directly", frame)
		}
	}
}

func FuzzDecodeFastMatchesSlow(f *testing.F) {
	for _, frame := range append(soundFrames, otherFrames...) {
		f.Add([]byte(frame))
	}
	f.Fuzz(func(t *testing.T, frame []byte) { checkDecode(t, frame) })
}

// checkDecode compares the direct reader with encoding/json on frame and
// reports whether the reader took it.
func checkDecode(t *testing.T, frame []byte) bool {
	t.Helper()
	got, gotErr := decode(frame, true)
	want, wantErr := decode(frame, false)
	if describe(got) != describe(want) || !reflect.DeepEqual(got, want) {
		t.Errorf("%q:\n got %s\nwant %s", frame, describe(got), describe(want))
	}
	if fmt.Sprintf("%T %v", gotErr, gotErr) != fmt.Sprintf("%T %v", wantErr, wantErr) {
		t.Errorf("%q:\n got error %v\nwant %v", frame, gotErr, wantErr)
	}
	b := bytes.TrimSpace(frame)
	if len(b) == 0 || b[0] != '{' {
		return false // Decode does not get as far as the reader
	}
	var read ClientFrame
	if !readFrame(b, &read) {
		return false
	}
	var decoded ClientFrame
	err := json.Unmarshal(b, &decoded)
	// An id of null: absent from the one, "null" in the other, alike
	// from presentID on.
	read.ID, decoded.ID = presentID(read.ID), presentID(decoded.ID)
	if err != nil {
		t.Errorf("%q: read directly, json.Unmarshal: %v", frame, err)
	} else if describe(read) != describe(decoded) || !reflect.DeepEqual(read, decoded) {
		t.Errorf("%q:\n read      %s\n unmarshal %s", frame, describe(read), describe(decoded))
	}
	if err := jsonutf8.CheckKeys(b, clientFrameType); err != nil {
		t.Errorf("%q: read directly, CheckKeys: %v", frame, err)
	}
	return true
}

// describe prints f with its pointers followed and its floats' bits, so
// that a difference shows (-0 and 0 included).
func describe(f ClientFrame) string {
	ptr := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprintf("%v(%#x)", *p, math.Float64bits(*p))
	}
	since := "nil"
	if f.Since != nil {
		since = fmt.Sprint(*f.Since)
	}
	return fmt.Sprintf("type=%q id=%q(nil=%t) channel=%q since=%s order_id=%d text=%q client_msg_id=%q seq=%d lat=%s lng=%s heading=%s speed=%s ts=%d token=%q",
		f.Type, f.ID, f.ID == nil, f.Channel, since, f.OrderID, f.Text, f.ClientMsgID, f.Seq,
		ptr(f.Lat), ptr(f.Lng), ptr(f.Heading), ptr(f.Speed), f.Ts, f.Token)
}
