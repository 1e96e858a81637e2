package memory_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
)

func TestContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) func() delivery.Bus {
		broker := memory.NewBroker()
		return func() delivery.Bus {
			b := broker.NewBus()
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
	})
}
