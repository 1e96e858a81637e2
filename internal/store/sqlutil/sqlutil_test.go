package sqlutil_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

func TestTimeText(t *testing.T) {
	in := time.Date(2024, 11, 24, 1, 2, 3, 123456789, time.FixedZone("x", 3600))
	s := sqlutil.FormatTime(in)
	if s != "2024-11-24T00:02:03.123456Z" {
		t.Fatalf("FormatTime = %s", s)
	}
	got, err := sqlutil.ParseTime(s)
	if err != nil || got != sqlutil.Time(in) {
		t.Fatalf("ParseTime = %v, %v; want %v", got, err, sqlutil.Time(in))
	}
	// Fixed width: text order is time order.
	if a, b := sqlutil.FormatTime(in), sqlutil.FormatTime(in.Add(time.Microsecond)); a >= b {
		t.Fatalf("%s >= %s", a, b)
	}
}

func TestWrap(t *testing.T) {
	de := delivery.Errorf(delivery.ENOTFOUND, "x")
	if got := sqlutil.Wrap("op", fmt.Errorf("ctx: %w", de)); got != error(de) {
		t.Fatalf("Wrap of a domain error = %v, want it unwrapped", got)
	}
	base := errors.New("disk")
	if got := sqlutil.Wrap("op", base); !errors.Is(got, base) || got.Error() != "op: disk" {
		t.Fatalf("Wrap = %v", got)
	}
	if sqlutil.Wrap("op", nil) != nil {
		t.Fatal("Wrap(nil) != nil")
	}
}
