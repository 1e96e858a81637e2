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
