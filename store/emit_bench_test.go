package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// BenchmarkDB_EmitEvents emits 100,000 events in one call, as "event emit
// --file" does, fanning out to 1 and to 10 webhooks, on a fresh database
// each time.
//
//	go test -run '^$' -bench EmitEvents -benchtime 3x ./store
func BenchmarkDB_EmitEvents(b *testing.B) {
	const n = 100_000
	evs := make([]store.NewEvent, n)
	for i := range evs {
		evs[i] = store.NewEvent{Type: "recording.imported",
			Payload: fmt.Appendf(nil, `{"type":"recording.imported","recordingId":"rec_%07d","deviceId":"dev_%d","path":"/recordings/2026/11/%07d.mcap","sizeBytes":%d}`, i, i%97, i, 1000+i)}
	}
	for _, hooks := range []int{1, 10} {
		b.Run(fmt.Sprintf("webhooks=%d", hooks), func(b *testing.B) {
			ctx := context.Background()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				db, err := store.Open(ctx, filepath.Join(b.TempDir(), "fgwh.db"))
				if err != nil {
					b.Fatal(err)
				}
				for h := range hooks {
					if _, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: fmt.Sprintf("https://example.com/%d", h), EventTypes: []string{"recording.imported"}}, t0); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				c0 := cpuTime()
				if _, err := db.EmitEvents(ctx, evs, t0); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			// The same per CPU second (user + system, this process): steadier on a busy machine.
			b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
