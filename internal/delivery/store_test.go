package delivery_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func TestPageLimit(t *testing.T) {
	for n, want := range map[int]int{-5: 50, 0: 50, 1: 1, 200: 200, 201: 200} {
		if got := delivery.PageLimit(n); got != want {
			t.Errorf("PageLimit(%d) = %d, want %d", n, got, want)
		}
	}
}
