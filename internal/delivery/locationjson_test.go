package delivery_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// locationFloats are floats at the edges of encoding/json's formats.
var locationFloats = []float64{
	0, math.Copysign(0, -1), 52.5123, 13.4, -33.8688, 151.2093, 270.5, 360, 90, -180, 1, -1, 0.1, 1.0 / 3,
	1e-6, 9.999999999999999e-7, 1e-7, -1e-7, 1.5e-9, 1e-10, 1e-100, 5e-324, math.SmallestNonzeroFloat64,
	1e20, 1e21, 9.999999999999999e20, 1.5e21, -1e21, 1e22, 1e100, 1e300, math.MaxFloat64, 123456789.123456789,
	float64(1 << 53), float64(1<<53) + 2, 2.2250738585072014e-308,
}

func TestLocationJSONMatchesEncodingJSON(t *testing.T) {
	for _, f := range locationFloats {
		for _, loc := range []delivery.Location{
			{CourierID: 7, Lat: f, Lng: -f, Ts: 1796317757302},
			{CourierID: 9223372036854775807, Lat: 52.5123, Lng: 13.4, Heading: &f, Speed: &f, Ts: -1},
			{Lat: f, Lng: f, Speed: new(f)},
			{CourierID: -3, Heading: new(f)},
		} {
			checkLocationJSON(t, loc)
		}
	}
}

func TestLocationJSONRefusesNonFinite(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, loc := range []delivery.Location{{Lat: f}, {Lng: f}, {Heading: &f}, {Speed: &f}} {
			if b, err := loc.AppendJSON(nil); err == nil {
				t.Errorf("%v: encoded as %s", loc, b)
			}
			if _, err := json.Marshal(loc); err == nil {
				t.Fatalf("%v: encoding/json encoded it", loc)
			}
		}
	}
}

func FuzzLocationJSON(f *testing.F) {
	for _, x := range locationFloats {
		f.Add(int64(42), x, -x, x, true, false, int64(1796317757302))
	}
	f.Fuzz(func(t *testing.T, id int64, lat, lng, x float64, heading, speed bool, ts int64) {
		loc := delivery.Location{CourierID: delivery.ID(id), Lat: lat, Lng: lng, Ts: ts}
		if heading {
			loc.Heading = &x
		}
		if speed {
			loc.Speed = new(x * 0.5)
		}
		checkLocationJSON(t, loc)
	})
}

// checkLocationJSON compares loc's AppendJSON with json.Marshal, onto
// nothing and after what a buffer held.
func checkLocationJSON(t *testing.T, loc delivery.Location) {
	t.Helper()
	want, wantErr := json.Marshal(loc)
	got, err := loc.AppendJSON(nil)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Errorf("%+v:\n got %s, %v\nwant %s, %v", loc, got, err, want, wantErr)
	}
	if got, err = loc.AppendJSON([]byte("[")); err == nil && !bytes.Equal(got, append([]byte("["), want...)) {
		t.Errorf("%+v: appended %s", loc, got)
	}
}

// BenchmarkLocationJSON: AppendJSON against json.Marshal, the encoding
// before it.
func BenchmarkLocationJSON(b *testing.B) {
	heading := 270.5
	loc := delivery.Location{CourierID: 1234, Lat: 52.5123, Lng: 13.4, Heading: &heading, Ts: 1796317757302}
	for _, bc := range []struct {
		name    string
		marshal func() ([]byte, error)
	}{
		{"json.Marshal", func() ([]byte, error) { return json.Marshal(loc) }},
		{"AppendJSON", func() ([]byte, error) { return loc.AppendJSON(nil) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
