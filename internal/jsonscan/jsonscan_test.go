package jsonscan_test

import (
	"encoding/json"
	"testing"

	"github.com/ordercast/ordercast/internal/jsonscan"
)

// TestNumber: Number takes a whole input exactly when it is a JSON number.
func TestNumber(t *testing.T) {
	for _, in := range []string{
		"0", "-0", "7", "-7", "10", "1.5", "-0.25", "1e3", "1E+3", "1e-3", "2.5E-07", "123456789012345678901234567890",
		"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1e-", "1.e3", "0x10", "NaN", "Infinity", "1_0", "--1", "1ee3",
	} {
		r := jsonscan.NewReader([]byte(in))
		_, ok := r.Number()
		var v any
		isNumber := json.Unmarshal([]byte(in), &v) == nil && in != "" && (in[0] == '-' || in[0] >= '0' && in[0] <= '9')
		if got := ok && r.AtEnd(); got != isNumber {
			t.Errorf("%q: took it whole %t, JSON number %t", in, got, isNumber)
		}
	}
}
