package ops_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/ops/opstest"
)

func TestMemoryContract(t *testing.T) {
	opstest.Run(t, func(t *testing.T) ops.Heartbeats { return ops.NewMemory() })
}
