package server

import (
	"bytes"
	"strings"
	"testing"
)

// publishBodies are publish bodies at the edges of the grammar, for the
// differential test and as the fuzz seeds.
var publishBodies = []string{
	`{"channel":"order:01HZY3NQ4W8M1T6X0V5B2C7D9E","event":"eta.updated","data":{"eta_s":420,"note":"stuck in traffic"}}`,
	`{"channel":"dispatch","event":"x","data":null,"durable":false}`,
	`{"channel":"order:1","event":"x","durable":true,"data":[1,2.5e3,-0,"a\"b\\",{"":{}},[],true,null]}`,
	` {"event":"x" , "channel" :"dispatch"}` + "\r\n\t ",
	`{"data":"\ud800","channel":"dispatch","event":"x"}`,
	`{"data":{"a":1,"A":2},"channel":"dispatch","event":"x"}`,
	`{"channel":"dispatch","event":"é","data":"日本"}`,
	`{}`,
	`{"channel":null,"event":null,"data":null,"durable":null}`,
	// Each refused, or left to encoding/json.
	``, ` `, `null`, `[]`, `"x"`, `{`, `}`, `{"channel"}`, `{"channel":}`, `{"channel":"x",}`, `{,}`,
	`{"channel":"x"}{}`, `{"channel":"x"} x`, `{"channel":"x"}` + "\x00", "\ufeff{}", "\u00a0{}",
	`{"channel":"x","channel":"y"}`, `{"Channel":"x"}`, `{"CHANNEL":"x"}`, `{"chann\u0065l":"x"}`,
	`{"channel":"x","extra":1}`, `{"channel":1}`, `{"channel":true}`, `{"channel":["x"]}`,
	`{"event":"a\u0062"}`, `{"event":"a\nb"}`, "{\"event\":\"a\tb\"}", `{"event":"\ud800"}`,
	`{"durable":"true"}`, `{"durable":1}`, `{"durable":tru}`, `{"durable":truex}`, `{"durable":nul}`, `{"durable":falsey}`,
	`{"data":}`, `{"data":,"channel":"x"}`, `{"data":{"a":1,"a":2}}`, `{"data":[{"b":1,"b":2}]}`,
	`{"data":{"a\u0062":1,"ab":2}}`, `{"data":01}`, `{"data":1 2}`, `{"data":{]}`, `{"data":[}`, `{"data":"x}`,
	`{"data":"\"}`, `{"data":{"a":1}}}`, `{"data":tru}`, `{"data":1.}`, `{"data":-}`, `{"data":"a` + "\x01" + `"}`,
	`{"data":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	"{\"channel\":\"\xff\"}", "{\"data\":\"\xc3\"}",
}

// TestDecodePublishMatchesDecodeJSON: the direct reader accepts only
// what decodeJSON accepts, with the same request, and decodePublish
// answers every body exactly as decodeJSON does, error message included.
// Variants of the bodies above (a byte deleted, doubled or replaced by
// one that matters to JSON) widen the corpus.
func TestDecodePublishMatchesDecodeJSON(t *testing.T) {
	const significant = "{}[]\":,\\ tfn0-.eEu\x00\xff"
	n := 0
	for _, body := range publishBodies {
		for i := 0; i <= len(body) && i < 200; i++ {
			variants := []string{body}
			if i < len(body) {
				variants = append(variants, body[:i]+body[i+1:], body[:i]+body[i:i+1]+body[i:])
			}
			for _, c := range []byte(significant) {
				if i < len(body) {
					variants = append(variants, body[:i]+string(c)+body[i+1:])
				}
			}
			for _, v := range variants {
				checkPublishDecode(t, []byte(v))
				n++
			}
		}
	}
	t.Logf("%d bodies", n)
}

// TestDecodePublishDirect: well-formed bodies, the traffic of the API, do
// not go through reflection.
func TestDecodePublishDirect(t *testing.T) {
	for _, body := range publishBodies[:9] {
		var req publishRequest
		if !decodePublishDirect([]byte(body), &req) {
			t.Errorf("%s: left to encoding/json", body)
		}
	}
}

func FuzzDecodePublish(f *testing.F) {
	for _, b := range publishBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkPublishDecode(t, body) })
}

func checkPublishDecode(t *testing.T, body []byte) {
	t.Helper()
	var want, direct, got publishRequest
	wantErr := decodeJSON(body, &want)
	if decodePublishDirect(body, &direct) {
		if wantErr != nil {
			t.Fatalf("%q: accepted directly, decodeJSON says %v", body, wantErr)
		}
		if !samePublish(direct, want) {
			t.Fatalf("%q: direct %+v, decodeJSON %+v", body, direct, want)
		}
	}
	err := decodePublish(body, &got)
	switch {
	case (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error():
		t.Fatalf("%q: error %v, decodeJSON's %v", body, err, wantErr)
	case err == nil && !samePublish(got, want):
		t.Fatalf("%q: %+v, decodeJSON %+v", body, got, want)
	}
}

func samePublish(a, b publishRequest) bool {
	return a.Channel == b.Channel && a.Event == b.Event && a.Durable == b.Durable && bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil)
}

// BenchmarkDecodePublish: a typical publish body, through decodeJSON
// (reflection, what the handler used before) and decodePublish.
func BenchmarkDecodePublish(b *testing.B) {
	body := []byte(`{"channel":"order:01HZY3NQ4W8M1T6X0V5B2C7D9E","event":"eta.updated","data":{"eta_s":420,"courier":{"name":"Ana","vehicle":"bike"},"note":"stuck in traffic on Main St, ten more minutes"},"durable":false}`)
	for _, bc := range []struct {
		name   string
		decode func([]byte, *publishRequest) error
	}{
		{"reflect", func(b []byte, r *publishRequest) error { return decodeJSON(b, r) }},
		{"direct", decodePublish},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var req publishRequest
				if err := bc.decode(body, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
