package jsonutf8_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/jsonutf8"
)

type line struct {
	MenuItemID string `json:"menu_item_id"`
	Quantity   int    `json:"quantity"`
}

type base struct {
	Note string `json:"note"`
}

type request struct {
	base
	Text    string          `json:"text"`
	Items   []line          `json:"items"`
	Extra   *line           `json:"extra,omitempty"`
	Data    json.RawMessage `json:"data"`
	Tags    map[string]line `json:"tags"`
	Skipped string          `json:"-"`
	Plain   int
}

func TestCheckKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the error, "" when accepted
	}{
		{`{"text":"a","items":[{"menu_item_id":"1","quantity":2}],"data":{"Text":1,"x":[{"y":1}]}}`, ""},
		{`{"note":"n","Plain":1,"tags":{"a":{"quantity":1},"B":{}},"unknown":{"a":1}}`, ""},
		{`  {"text" : "a" , "extra" : null}  `, ""},
		{`[]`, ""},
		{`"text"`, ""},
		{`{"text":"a","text":"b"}`, "text: duplicate key"},
		{`{"text":"a","te\u0078t":"b"}`, "text: duplicate key"},
		{`{"Text":"\ud800"}`, "Text: unknown field (keys are case-sensitive: did you mean text?)"},
		{`{"\u0054ext":"a"}`, "Text: unknown field (keys are case-sensitive: did you mean text?)"},
		{`{"TEXT":"a"}`, "TEXT: unknown field (keys are case-sensitive: did you mean text?)"},
		{`{"NOTE":"a"}`, "NOTE: unknown field (keys are case-sensitive: did you mean note?)"},
		{`{"plain":1}`, "plain: unknown field (keys are case-sensitive: did you mean Plain?)"},
		// U+017F (long s) folds to s, as encoding/json matches it.
		{`{"item\u017f":[]}`, "itemſ: unknown field (keys are case-sensitive: did you mean items?)"},
		{`{"items":[{"quantity":1},{"quantity":1,"Quantity":2}]}`, "items[1].Quantity: unknown field (keys are case-sensitive: did you mean quantity?)"},
		{`{"items":[{"quantity":1,"quantity":2}]}`, "items[0].quantity: duplicate key"},
		{`{"extra":{"QUANTITY":1}}`, "extra.QUANTITY: unknown field (keys are case-sensitive: did you mean quantity?)"},
		{`{"tags":{"a":{"Quantity":1}}}`, "tags.a.Quantity: unknown field (keys are case-sensitive: did you mean quantity?)"},
		{`{"tags":{"a":{},"a":{}}}`, "tags.a: duplicate key"},
		{`{"data":{"x":{"y":1,"y":2}}}`, "data.x.y: duplicate key"},
		{`{"data":[[{"k":1,"k":1}]]}`, "data[0][0].k: duplicate key"},
		{`{"unknown":{"k":"a","k":"b"}}`, "unknown.k: duplicate key"},
		{`{"a\"b":1,"a\"b":2}`, `a"b: duplicate key`},
	} {
		if !json.Valid([]byte(tc.in)) {
			t.Fatalf("test input %s is not valid JSON", tc.in)
		}
		err := jsonutf8.CheckKeys([]byte(tc.in), reflect.TypeFor[*request]())
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestCheckKeysManyKeys: duplicates are found among many keys too (past
// the few compared one by one), and a large object is no quadratic work.
func TestCheckKeysManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"data":{`)
	for i := range 5000 {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	ok := b.String()
	for _, tc := range []struct{ in, want string }{
		{ok + `"end":0}}`, ""},
		{ok + `"k4999":0}}`, "data.k4999: duplicate key"},
		{ok + `"k3":0}}`, "data.k3: duplicate key"},
	} {
		err := jsonutf8.CheckKeys([]byte(tc.in), reflect.TypeFor[request]())
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestCheckKeysAllocatesNothing(t *testing.T) {
	frame := []byte(`{"text":"at the door","note":"x","Plain":4,"items":[{"menu_item_id":"1","quantity":1},{"menu_item_id":"2","quantity":3}],"data":{"a":1}}`)
	typ := reflect.TypeFor[request]()
	if n := testing.AllocsPerRun(100, func() { _ = jsonutf8.CheckKeys(frame, typ) }); n != 0 {
		t.Errorf("%v allocations per check, want 0", n)
	}
}
