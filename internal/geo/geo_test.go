package geo_test

import (
	"math"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/geo"
)

// metresPerDegreeLat is one degree of latitude on the sphere of
// geo.Distance: a point moved north by m metres is exactly m away.
const metresPerDegreeLat = 2 * math.Pi * 6_371_008.8 / 360

// north returns p moved m metres north.
func north(p delivery.Place, m float64) delivery.Place {
	return delivery.Place{Lat: p.Lat + m/metresPerDegreeLat, Lng: p.Lng}
}

func TestDistance(t *testing.T) {
	berlin := delivery.Place{Lat: 52.5200, Lng: 13.4050}
	for _, tc := range []struct {
		name     string
		a, b     delivery.Place
		want, by float64 // metres, and the tolerance
	}{
		{"same place", berlin, berlin, 0, 0},
		{"50 m north", berlin, north(berlin, 50), 50, 1e-6},
		{"Berlin to Paris", berlin, delivery.Place{Lat: 48.8566, Lng: 2.3522}, 877_500, 1500},
		{"across the antimeridian", delivery.Place{Lat: 0, Lng: 179.9}, delivery.Place{Lat: 0, Lng: -179.9}, 22_239, 5},
		{"antipodes", delivery.Place{Lat: 0, Lng: 0}, delivery.Place{Lat: 0, Lng: 180}, math.Pi * 6_371_008.8, 1e-3},
	} {
		got := geo.Distance(tc.a, tc.b)
		if math.Abs(got-tc.want) > tc.by || math.Abs(geo.Distance(tc.b, tc.a)-got) > 1e-9 {
			t.Errorf("%s: %.3f m, want %.3f ± %g", tc.name, got, tc.want, tc.by)
		}
	}
}
