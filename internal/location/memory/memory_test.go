package memory_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/location/locationtest"
	"github.com/ordercast/ordercast/internal/location/memory"
)

func TestStore(t *testing.T) {
	locationtest.Run(t, func(_ *testing.T, c *locationtest.Clock) delivery.LocationStore { return memory.NewWithClock(c.Now) })
}
