package delivery_test

import (
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func TestCheckText(t *testing.T) {
	line := delivery.TextRule{Max: 5, Required: true}
	multi := delivery.TextRule{Max: 5, Multiline: true}
	for _, tc := range []struct {
		in   string
		rule delivery.TextRule
		want string // "" when refused
	}{
		{"  abc ", line, "abc"},
		{"héllo", line, "héllo"},
		{"héllo!", line, ""},
		{"   ", line, ""},
		{"", multi, ""},
		{"a\x00b", line, ""},
		{"a\x00b", multi, ""},
		{"a\nb", line, ""},
		{"a\nb", multi, "a\nb"},
		{"a\tb", multi, "a\tb"},
		{"a\x1bb", multi, ""},
		{"\xff", multi, ""},
	} {
		got, err := delivery.CheckText("f", tc.in, tc.rule)
		if tc.want == "" && tc.in != "" {
			if err == nil || !strings.HasPrefix(delivery.ErrorMessage(err), "f: ") {
				t.Errorf("%q: got %q, %v; want an error naming f", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestCheckTextInvisible: bidi overrides and isolates and zero-width
// characters are refused, naming the field and the character, except the
// joiners where writing needs them: U+200D inside an emoji sequence, and
// both joiners between letters of a script that spells with them.
func TestCheckTextInvisible(t *testing.T) {
	rule := delivery.TextRule{Max: 100, Multiline: true}
	for _, ok := range []string{
		"👩‍🍳 on the way",                 // woman cook: pictograph, ZWJ, pictograph
		"🏳️‍🌈",                           // white flag, VS16, ZWJ, rainbow
		"🧑🏽‍🍳",                           // a skin tone before the joiner
		"❤️‍🔥 thanks",                    // heart on fire
		"👨‍👩‍👧‍👦",                        // a family: three joiners
		"می‌خواهم",                       // Persian: the non-joiner inside a word
		"क्‍ष",                           // Devanagari: the joiner after a virama
		"\u200e\u05e9\u05dc\u05d5\u05dd", // a left-to-right mark is no override
	} {
		if got, err := delivery.CheckText("text", ok, rule); err != nil || got != ok {
			t.Errorf("%q: got %q, %v; want it accepted", ok, got, err)
		}
	}
	for _, tc := range []struct{ in, char string }{
		{"abc\u202Edcba", "U+202E"}, // right-to-left override
		{"\u202Aleft", "U+202A"},
		{"x\u202Cy", "U+202C"},
		{"\u2066isolate\u2069", "U+2066"},
		{"first strong \u2068x", "U+2068"},
		{"end\u2069", "U+2069"},
		{"Lu\u200Bigi's", "U+200B"}, // zero-width space
		{"Lu\u200Cigi's", "U+200C"}, // non-joiner between Latin letters
		{"Lu\u200Digi's", "U+200D"}, // joiner between Latin letters
		{"\u200D👩", "U+200D"},       // a joiner with nothing before it
		{"👩\u200D", "U+200D"},       // nor after it
		{"👩\u200Dx", "U+200D"},      // a joiner from a pictograph to a letter
		{"a\u2060b", "U+2060"},      // word joiner
		{"\uFEFFbom", "U+FEFF"},
		{"between\u200C👩", "U+200C"},
	} {
		_, err := delivery.CheckText("name", tc.in, rule)
		if msg := delivery.ErrorMessage(err); err == nil || delivery.ErrorCode(err) != delivery.EINVALID ||
			!strings.HasPrefix(msg, "name: ") || !strings.Contains(msg, tc.char) {
			t.Errorf("%q: got %v; want invalid naming the field and %s", tc.in, err, tc.char)
		}
	}
}
