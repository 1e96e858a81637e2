package wire_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want = bytes.TrimSuffix(want, []byte("\n")); !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
	if !json.Valid(got) {
		t.Errorf("%s: not valid JSON: %s", name, got)
	}
}

func TestGoldenFrames(t *testing.T) {
	data := []byte(`{"id":"42","status":"accepted"}`)
	golden(t, "event_durable.json", wire.AppendEvent(nil, "order:42", "order.status", 18, data, 1732406400123))
	golden(t, "event_ephemeral.json", wire.AppendEvent(nil, "dispatch", "order.claimed", 0, []byte(`{"order_id":"42"}`), 1732406400123))
	golden(t, "event_null_data.json", wire.AppendEvent(nil, "user:7", "promo", 0, nil, 1))
	golden(t, "ack_string_id.json", wire.AppendAck(nil, []byte(`"1"`)))
	golden(t, "ack_number_id.json", wire.AppendAck(nil, []byte(`17`)))
	golden(t, "error.json", wire.AppendError(nil, []byte(`"3"`), wire.CodeForbidden, "not a party of this order"))
	golden(t, "error_no_id.json", wire.AppendError(nil, nil, wire.CodeBadFrame, "malformed JSON at byte 4"))
	golden(t, "unsubscribed.json", wire.AppendUnsubscribed(nil, "order:42", wire.CodeForbidden))
}

// TestEventFrameMatchesContract decodes an encoded event with
// encoding/json, as a client would, and checks every field of API.md.
func TestEventFrameMatchesContract(t *testing.T) {
	b := wire.AppendEvent(nil, "order:42", "order.status", 18, []byte(`{"a":[1,2]}`), 1732406400123)
	var got struct {
		Type    string          `json:"type"`
		Channel string          `json:"channel"`
		Event   string          `json:"event"`
		Seq     int64           `json:"seq"`
		Data    json.RawMessage `json:"data"`
		Ts      int64           `json:"ts"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "event" || got.Channel != "order:42" || got.Event != "order.status" || got.Seq != 18 ||
		string(got.Data) != `{"a":[1,2]}` || got.Ts != 1732406400123 {
		t.Errorf("got %+v", got)
	}
}

// TestEventNames reads back the names AppendEvent wrote, with or without
// a seq, and refuses frames that are not events.
func TestEventNames(t *testing.T) {
	for _, seq := range []int64{0, 18} {
		b := wire.AppendEvent(nil, "order:42", "courier.location", seq, []byte(`{"event":"x"}`), 1)
		ch, ev, ok := wire.EventNames(b)
		if !ok || string(ch) != "order:42" || string(ev) != "courier.location" {
			t.Errorf("seq %d: got %q %q %v", seq, ch, ev, ok)
		}
	}
	b := wire.AppendEvent(nil, `a"b`, `c\d`, 0, nil, 1)
	if ch, ev, ok := wire.EventNames(b); !ok || string(ch) != `a\"b` || string(ev) != `c\\d` {
		t.Errorf("escaped names: got %q %q %v", ch, ev, ok)
	}
	for _, f := range [][]byte{
		wire.AppendAck(nil, []byte(`"1"`)),
		wire.AppendError(nil, nil, "invalid", "no"),
		wire.AppendUnsubscribed(nil, "order:42", "forbidden"),
		[]byte(`{"type":"event","channel":"order:42`),
		[]byte(`{"type":"event","channel":"order:42","event":"x`),
	} {
		if _, _, ok := wire.EventNames(f); ok {
			t.Errorf("%s: read as an event", f)
		}
	}
}

// TestEventSeq reads back the seq of durable events, and 0 of ephemeral
// ones and of frames that are not events.
func TestEventSeq(t *testing.T) {
	for _, seq := range []int64{0, 1, 18, 9007199254740993} {
		if got := wire.EventSeq(wire.AppendEvent(nil, "order:42", "order.status", seq, []byte(`{"seq":7}`), 1)); got != seq {
			t.Errorf("seq %d: got %d", seq, got)
		}
	}
	for _, f := range [][]byte{
		wire.AppendAckSeq(nil, []byte(`"1"`), 5),
		wire.AppendUnsubscribed(nil, "order:42", "forbidden"),
	} {
		if got := wire.EventSeq(f); got != 0 {
			t.Errorf("%s: seq %d", f, got)
		}
	}
}

// TestFeedEvent: a feed event names its order before its seq; both read
// back, and the frame is the JSON an encoder would write.
func TestFeedEvent(t *testing.T) {
	f := wire.AppendFeedEvent(nil, "user:7", "order.status", 42, 18, []byte(`{"id":"42"}`), 1)
	if got := wire.EventOrder(f); got != 42 {
		t.Errorf("order %d, want 42", got)
	}
	if got := wire.EventSeq(f); got != 18 {
		t.Errorf("seq %d, want 18", got)
	}
	var back struct {
		OrderID string `json:"order_id"`
		Seq     int64  `json:"seq"`
	}
	if err := json.Unmarshal(f, &back); err != nil || back.OrderID != "42" || back.Seq != 18 {
		t.Errorf("%s: %+v %v", f, back, err)
	}
	if got := wire.EventOrder(wire.AppendEvent(nil, "order:42", "order.status", 18, []byte(`{}`), 1)); got != 0 {
		t.Errorf("an order channel's event names order %d", got)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "line\nfeed\r\t", "\x00\x1f", "héllo €", "bad\xffutf8", "<&>", "\u2028"} {
		got := wire.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q: round trip gave %q", s, back)
		}
	}
}

func TestParseChannel(t *testing.T) {
	good := map[string]wire.Channel{
		"order:42":     {Kind: wire.KindOrder, ID: 42},
		"user:7":       {Kind: wire.KindUser, ID: 7},
		"restaurant:3": {Kind: wire.KindRestaurant, ID: 3},
		"dispatch":     {Kind: wire.KindDispatch},
		"ops":          {Kind: wire.KindOps},
	}
	for s, want := range good {
		got, err := wire.ParseChannel(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParseChannel(%q) = %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "order:", "order:0", "order:-1", "order:+1", "order:042", "order: 4", "orders:4",
		"user:x", "dispatch:1", "Dispatch", "order:99999999999999999999", "news",
		"ops:1", "OPS", "ops.revoke"} {
		if _, err := wire.ParseChannel(s); delivery.ErrorCode(err) != wire.CodeInvalid {
			t.Errorf("ParseChannel(%q): err %v, want invalid", s, err)
		}
	}
	if _, err := wire.ParseChannel("news"); !strings.Contains(delivery.ErrorMessage(err), "dispatch or ops") {
		t.Errorf("the error lists the channels: %v", err)
	}
}

func TestKindNames(t *testing.T) {
	for k, want := range map[wire.Kind]string{wire.KindOrder: "order", wire.KindUser: "user", wire.KindRestaurant: "restaurant",
		wire.KindDispatch: "dispatch", wire.KindOps: "ops", 0: "", wire.Kind(wire.NumKinds): ""} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d) = %q, want %q", k, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	f, err := wire.Decode([]byte(`{"type":"subscribe","id":"1","channel":"order:42","since":17,"extra":true}`))
	if err != nil || f.Type != wire.TypeSubscribe || string(f.ID) != `"1"` || f.Channel != "order:42" || f.Since == nil || *f.Since != 17 {
		t.Fatalf("got %+v, %v", f, err)
	}
	f, err = wire.Decode([]byte(`{"type":"typing","order_id":"42"}`))
	if err != nil || f.OrderID != 42 || f.ID != nil {
		t.Fatalf("got %+v, %v", f, err)
	}
	f, err = wire.Decode([]byte(`{"type":"auth","id":9,"token":"t"}`))
	if err != nil || string(f.ID) != "9" || f.Token != "t" {
		t.Fatalf("got %+v, %v", f, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		in, code, id, msg string
	}{
		{`{"type":`, wire.CodeBadFrame, "", "malformed JSON"},
		{`not json`, wire.CodeBadFrame, "", "malformed JSON"},
		{`[1,2]`, wire.CodeBadFrame, "", "JSON object"},
		{`"subscribe"`, wire.CodeBadFrame, "", "JSON object"},
		{``, wire.CodeBadFrame, "", "JSON object"},
		{`{"id":"1"}`, wire.CodeInvalid, `"1"`, "type: required"},
		{`{"id":"1","type":"dance"}`, wire.CodeUnknownType, `"1"`, "dance"},
		{`{"id":"1","type":7}`, wire.CodeInvalid, `"1"`, "type: must be a string"},
		{`{"id":"2","type":"subscribe","channel":42}`, wire.CodeInvalid, `"2"`, "channel: must be a string"},
		{`{"id":"2","type":"subscribe","channel":"order:1","since":"x"}`, wire.CodeInvalid, `"2"`, "since: must be an integer"},
		{`{"id":"2","type":"subscribe","channel":"order:1","since":-1}`, wire.CodeInvalid, `"2"`, "since: must not be negative"},
		{`{"id":"2","type":"subscribe"}`, wire.CodeInvalid, `"2"`, "channel: required"},
		{`{"type":"typing","order_id":"abc","id":"3"}`, wire.CodeInvalid, `"3"`, "order_id: must be an id"},
		{`{"type":"auth","id":"4"}`, wire.CodeInvalid, `"4"`, "token: required"},
		{`{"type":"auth","id":{"a":1}}`, wire.CodeInvalid, "", "id: must be a string or a number"},
		{`{"type":"auth","id":"` + strings.Repeat("x", 70) + `"}`, wire.CodeInvalid, "", "id: at most"},
		{"{\"type\":\"auth\",\"id\":\"\xff\"}", wire.CodeInvalid, "", "id: must be valid UTF-8"},
	}
	for _, c := range cases {
		f, err := wire.Decode([]byte(c.in))
		if err == nil {
			t.Errorf("%s: no error", c.in)
			continue
		}
		if got := delivery.ErrorCode(err); got != c.code {
			t.Errorf("%s: code %s, want %s (%v)", c.in, got, c.code, err)
		}
		if string(f.ID) != c.id {
			t.Errorf("%s: id %s, want %s", c.in, f.ID, c.id)
		}
		if !strings.Contains(delivery.ErrorMessage(err), c.msg) {
			t.Errorf("%s: message %q, want it to contain %q", c.in, delivery.ErrorMessage(err), c.msg)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	data := []byte(`{"id":"42","status":"accepted","seq":18,"customer_id":"7","restaurant_id":"3","courier_id":null,"items":[{"menu_item_id":"1","name":"Pizza","quantity":1,"price_cents":1250}],"total_cents":1850,"delivery_address":"1 Main St"}`)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire.AppendEvent(nil, "order:42", "order.status", 18, data, 1732406400123))))
	for b.Loop() {
		buf = wire.AppendEvent(buf[:0], "order:42", "order.status", 18, data, 1732406400123)
	}
}

func BenchmarkDecodeLocation(b *testing.B) {
	frame := []byte(`{"type":"location","lat":52.5123,"lng":13.4,"ts":1796317757302}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := wire.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSubscribe(b *testing.B) {
	frame := []byte(`{"type":"subscribe","id":"7","channel":"order:1234567","since":42}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := wire.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEventData reads back the data of order and feed events, with or
// without a seq, whatever the data holds, and refuses frames that are not
// events.
func TestEventData(t *testing.T) {
	for _, data := range []string{`{"lat":52.1,"ts":17}`, `null`, `"a,\"ts\":1}"`, `[{"seq":1}]`} {
		for _, seq := range []int64{0, 18} {
			for _, order := range []delivery.ID{0, 42} {
				f := wire.AppendFeedEvent(nil, "order:42", "courier.location", order, seq, []byte(data), 1732406400123)
				if got, ok := wire.EventData(f); !ok || string(got) != data {
					t.Errorf("%s: got %q, %v", f, got, ok)
				}
			}
		}
	}
	for _, f := range [][]byte{
		wire.AppendAck(nil, []byte(`"1"`)),
		wire.AppendAckSeq(nil, []byte(`"1"`), 5),
		[]byte(`{"type":"event","channel":"order:42","event":"x","data":{}`),
	} {
		if got, ok := wire.EventData(f); ok {
			t.Errorf("%s: data %q", f, got)
		}
	}
}
