package postgres_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/store/postgres"
	"github.com/ordercast/ordercast/internal/store/storetest"
)

// BenchmarkDurableAppend: durable appends (storetest.BenchDurableAppend)
// on the server TEST_DATABASE_URL names.
//
//	TEST_DATABASE_URL=postgres://... go test ./internal/store/postgres -run '^$' -bench DurableAppend -benchtime 20000x
func BenchmarkDurableAppend(b *testing.B) {
	storetest.BenchDurableAppend(b, postgres.OpenTest(b))
}
