package postgres

import (
	"os"
	"strconv"
	"testing"

	"github.com/ordercast/ordercast/internal/store/storetest"
)

// BenchmarkDurableAppend: durable appends (storetest.BenchDurableAppend)
// on the server TEST_DATABASE_URL names, with the pool Open sets up
// (BENCH_CONNS connections to try another size).
//
//	TEST_DATABASE_URL=postgres://... go test ./internal/store/postgres -run '^$' -bench DurableAppend -benchtime 20000x
func BenchmarkDurableAppend(b *testing.B) {
	n, err := strconv.Atoi(os.Getenv("BENCH_CONNS"))
	if err != nil {
		n = defaultMaxConns
	}
	storetest.BenchDurableAppend(b, openTest(b, int32(n)))
}
