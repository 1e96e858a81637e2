// Package geo holds the pure parts of "where the courier is": distances on
// the globe, the arrival detector and the ETA model. It does no I/O: the
// order service reads the stored state, asks these functions what a
// position or a change does to it, and writes what they say (API.md,
// "Where the courier is: arrival and ETA").
package geo

import (
	"math"

	"github.com/ordercast/ordercast/internal/delivery"
)

// earthRadius is the mean radius of the Earth in metres (IUGG).
const earthRadius = 6_371_008.8

// Distance returns the great-circle distance between a and b in metres
// (the haversine formula on a sphere: within 0.5 % of the ellipsoid, far
// closer than a phone's position).
func Distance(a, b delivery.Place) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLng := (b.Lng - a.Lng) * rad
	h := math.Pow(math.Sin(dLat/2), 2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Pow(math.Sin(dLng/2), 2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}
