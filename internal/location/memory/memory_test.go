package memory_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/location/locationtest"
	"github.com/ordercast/ordercast/internal/location/memory"
)

func TestStore(t *testing.T) {
	locationtest.Run(t, func(*testing.T) delivery.LocationStore { return memory.New() })
}
