package main

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildFgwh builds the real fgwh binary once into dir, as README's Install
// says (static, CGO_ENABLED=0): the benchmarks time whole processes,
// start-up included.
func buildFgwh(b *testing.B, dir string) string {
	b.Helper()
	return buildStatic(b, filepath.Join(dir, "fgwh"), ".")
}

// buildStatic builds the package pkg into bin with CGO_ENABLED=0.
func buildStatic(b *testing.B, bin, pkg string) string {
	b.Helper()
	c := exec.Command("go", "build", "-o", bin, pkg)
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// runFgwh runs the binary against db, fails the benchmark if it fails,
// and returns its wall time and its CPU time (user + system).
func runFgwh(b *testing.B, bin, db string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	c := exec.Command(bin, args...)
	c.Env = append(os.Environ(), "FGWH_DB="+db)
	start := time.Now()
	out, err := c.CombinedOutput()
	wall = time.Since(start)
	if err != nil {
		b.Fatalf("fgwh %v: %v\n%s", args, err, out)
	}
	return wall, c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// BenchmarkEmitProcess times one whole "fgwh event emit" process (start,
// open, schema check, insert of the event and its delivery, exit) against
// a database with one subscribed webhook. In the same run, alternating
// with it, it times two baselines: "fgwh version", the same binary never
// opening the database, and testdata/bareinsert, the least a Go process
// does to insert one row with the same driver in WAL mode (the issue's "a
// bare Go binary that opens SQLite in WAL mode and inserts one row"). It
// reports the medians, and ratio, emit ÷ bare insert, which compares
// across machines where milliseconds do not: the goal of 10 ms where the
// bare insert takes 4 ms is a ratio of 2.5.
//
//	go test -run '^$' -bench EmitProcess -benchtime 200x .
func BenchmarkEmitProcess(b *testing.B) {
	dir := b.TempDir()
	bin := buildFgwh(b, dir)
	bare := buildStatic(b, filepath.Join(dir, "bareinsert"), "./testdata/bareinsert")
	db := filepath.Join(dir, "fgwh.db")
	bareDB := filepath.Join(dir, "bare.db")
	runFgwh(b, bin, db, "webhook", "create", "--url", "https://example.com/hook", "--event", "recording.imported")
	var emit, version, baseline, emitCPU, versionCPU, baselineCPU []time.Duration
	for i := 0; b.Loop(); i++ {
		wall, cpu := runFgwh(b, bin, db, "event", "emit", "recording.imported", "--data", "recordingId=rec_"+strconv.Itoa(i))
		emit, emitCPU = append(emit, wall), append(emitCPU, cpu)
		wall, cpu = runFgwh(b, bin, db, "version")
		version, versionCPU = append(version, wall), append(versionCPU, cpu)
		wall, cpu = runFgwh(b, bare, db, bareDB)
		baseline, baselineCPU = append(baseline, wall), append(baselineCPU, cpu)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median(emit)), "emit-ms")
	b.ReportMetric(ms(median(version)), "version-ms")
	b.ReportMetric(ms(median(baseline)), "bare-insert-ms")
	b.ReportMetric(float64(median(emit))/float64(median(baseline)), "ratio")
	// CPU time is steadier than wall time on a busy machine.
	b.ReportMetric(ms(median(emitCPU)), "emit-cpu-ms")
	b.ReportMetric(ms(median(versionCPU)), "version-cpu-ms")
	b.ReportMetric(ms(median(baselineCPU)), "bare-insert-cpu-ms")
}

// BenchmarkEmitFile times "fgwh event emit --file" with 100,000 lines
// against databases with 1 and 10 subscribed webhooks, each run on a fresh
// database, and reports events per second.
//
// Each iteration also times a baseline on a fresh SQLite file with the
// store's pragmas: the same number of rows (the lines' payloads) inserted
// 100 rows a statement in one transaction into a table with no index but
// its integer primary key. It reports baseline_rows/s and ratio (events/s ÷
// baseline_rows/s), which compares across machines of different speeds
// where events/s alone does not.
//
//	go test -run '^$' -bench EmitFile -benchtime 3x .
func BenchmarkEmitFile(b *testing.B) {
	const lines = 100_000
	dir := b.TempDir()
	bin := buildFgwh(b, dir)
	file := filepath.Join(dir, "events.jsonl")
	writeEventsFile(b, file, lines)
	for _, hooks := range []int{1, 10} {
		b.Run(fmt.Sprintf("webhooks=%d", hooks), func(b *testing.B) {
			var total, totalCPU, base time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				db := filepath.Join(b.TempDir(), "fgwh.db")
				for h := range hooks {
					runFgwh(b, bin, db, "webhook", "create", "--url", fmt.Sprintf("https://example.com/hook/%d", h), "--event", "recording.imported")
				}
				b.StartTimer()
				wall, cpu := runFgwh(b, bin, db, "event", "emit", "--file", file)
				b.StopTimer()
				base += baselineInsert(b, filepath.Join(b.TempDir(), "baseline.db"), lines)
				b.StartTimer()
				total, totalCPU = total+wall, totalCPU+cpu
				n++
			}
			events := float64(n*lines) / total.Seconds()
			baseline := float64(n*lines) / base.Seconds()
			b.ReportMetric(events, "events/s")
			b.ReportMetric(float64(n*lines*hooks)/total.Seconds(), "deliveries/s")
			// The same per CPU second (user + system): steadier on a busy machine.
			b.ReportMetric(float64(n*lines)/totalCPU.Seconds(), "events/cpu-s")
			b.ReportMetric(baseline, "baseline_rows/s")
			b.ReportMetric(events/baseline, "ratio")
		})
	}
}

// baselineInsert inserts rows payloads into a new SQLite file at path, 100
// rows a statement (prepared once) in one transaction, into a table with
// only an integer primary key, and returns the time from open to close.
// It uses the store's pragmas (store/sqlite.go): WAL, synchronous=NORMAL,
// an 8 MiB page cache (store's cacheKiB) and an in-memory temp store.
func baselineInsert(b *testing.B, path string, rows int) time.Duration {
	b.Helper()
	const perStmt = 100
	start := time.Now()
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-8192)&_pragma=temp_store(MEMORY)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL) STRICT`); err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO t (payload) VALUES ` + strings.TrimSuffix(strings.Repeat("(?),", perStmt), ","))
	if err != nil {
		b.Fatal(err)
	}
	args := make([]any, perStmt)
	for i := 0; i < rows; i += perStmt {
		for j := range args {
			args[j] = eventPayload(i + j)
		}
		if _, err := stmt.Exec(args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := stmt.Close(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// eventPayload is line i's payload object in writeEventsFile.
func eventPayload(i int) string {
	return fmt.Sprintf(`{"type":"recording.imported","recordingId":"rec_%07d","deviceId":"dev_%d","path":"/recordings/2026/11/%07d.mcap","sizeBytes":%d}`,
		i, i%97, i, 1000+i)
}

func writeEventsFile(b *testing.B, path string, lines int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range lines {
		fmt.Fprintf(w, `{"type":"recording.imported","timestamp":"2026-11-27T08:00:00.000Z","payload":{"recordingId":"rec_%07d","deviceId":"dev_%d","path":"/recordings/2026/11/%07d.mcap","sizeBytes":%d}}`+"\n",
			i, i%97, i, 1000+i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
