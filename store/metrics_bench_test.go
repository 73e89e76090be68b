package store_test

import (
	"context"
	"testing"
)

// BenchmarkDB_QueueMetrics measures the two reads of a metrics scrape
// (fgwh deliver --metrics-addr) on the listing benchmarks' database:
//
//	go test ./store -run '^$' -bench 'QueueMetrics' -benchtime 20x
func BenchmarkDB_QueueMetrics(b *testing.B) {
	db, _, _ := openBigDB(b)
	ctx := context.Background()
	b.Run("QueueCounts", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.QueueCounts(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OldestDue", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := db.OldestDue(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
