package hub

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestSSEEventText: an event frame becomes its event, with the cursor of
// every order channel as the id of a durable one; an unsubscribed frame
// becomes the error event and leaves the cursor; line breaks in a frame
// (JSON whitespace) become data lines.
func TestSSEEventText(t *testing.T) {
	tc := &sseConn{}
	tc.track("order:42", 17)
	tc.track("order:43", 0)
	for _, step := range []struct{ frame, want string }{
		{string(wire.AppendEvent(nil, "order:42", "order.status", 18, []byte(`{"a":1}`), 5)),
			"event: order.status\nid: order:42=18,order:43=0\ndata: {\"type\":\"event\",\"channel\":\"order:42\",\"event\":\"order.status\",\"seq\":18,\"data\":{\"a\":1},\"ts\":5}\n\n"},
		{string(wire.AppendEvent(nil, "order:43", "courier.location", 0, []byte(`{}`), 6)),
			"event: courier.location\ndata: {\"type\":\"event\",\"channel\":\"order:43\",\"event\":\"courier.location\",\"data\":{},\"ts\":6}\n\n"},
		{string(wire.AppendEvent(nil, "user:7", "order.status", 3, []byte("{\"a\":\r\n1,\n\"b\":\r2}"), 7)),
			"event: order.status\nid: order:42=18,order:43=0\ndata: {\"type\":\"event\",\"channel\":\"user:7\",\"event\":\"order.status\",\"seq\":3,\"data\":{\"a\":\ndata: 1,\ndata: \"b\":\ndata: 2},\"ts\":7}\n\n"},
		{string(wire.AppendUnsubscribed(nil, "order:42", wire.CodeForbidden)),
			"event: error\ndata: {\"channel\":\"order:42\",\"code\":\"forbidden\"}\n\n"},
		{string(wire.AppendEvent(nil, "order:43", "order.status", 1, nil, 8)),
			"event: order.status\nid: order:43=1\ndata: {\"type\":\"event\",\"channel\":\"order:43\",\"event\":\"order.status\",\"seq\":1,\"data\":null,\"ts\":8}\n\n"},
	} {
		if got := string(tc.appendEvent(nil, []byte(step.frame))); got != step.want {
			t.Errorf("%s:\n got %q\nwant %q", step.frame, got, step.want)
		}
	}
}

// TestSSENoOrderChannelNoID: a stream holding no order channel writes no
// id line, which would reset the client's last one to empty.
func TestSSENoOrderChannelNoID(t *testing.T) {
	tc := &sseConn{}
	got := string(tc.appendEvent(nil, wire.AppendFeedEvent(nil, "user:7", "order.status", 42, 3, []byte(`{}`), 7)))
	want := "event: order.status\ndata: {\"type\":\"event\",\"channel\":\"user:7\",\"event\":\"order.status\",\"order_id\":\"42\",\"seq\":3,\"data\":{},\"ts\":7}\n\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestParseSSE(t *testing.T) {
	h := &Hub{}
	h.cfg.Limits.setDefaults()
	st, err := h.ParseSSE("order:42,user:7,order:42,order:43", "order:42=18,order:9=3")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Channels) != 3 || st.Channels[2] != (wire.Channel{Kind: wire.KindOrder, ID: 43}) {
		t.Errorf("channels %v", st.Channels)
	}
	if len(st.Resume) != 1 || st.Resume["order:42"] != 18 {
		t.Errorf("resume %v: only channels asked for", st.Resume)
	}
	if st, err := h.ParseSSE("", ""); err != nil || len(st.Channels) != 0 {
		t.Errorf("no channels: %v %v", st, err)
	}
	for _, bad := range [][2]string{
		{"order:x", ""}, {"order:1,", ""}, {",", ""}, {"order:1", "order:1"}, {"order:1", "order:1=-1"},
		{"order:1", "user:1=2"}, {"order:1", "order:1=2,"}, {"order:1", "order:01=2"},
	} {
		if _, err := h.ParseSSE(bad[0], bad[1]); delivery.ErrorCode(err) != delivery.EINVALID {
			t.Errorf("channels %q, cursor %q: %v, want invalid", bad[0], bad[1], err)
		}
	}
}
