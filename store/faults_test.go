package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// Storage faults (issue 4): a full disk, a read-only file, a lock held by
// another writer, a truncated file. None may panic or lose what was committed.

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips the
// test with the reason when this machine does not allow mounting.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func countRows(t *testing.T, db *store.DB, ctx context.Context) (events, deliveries int) {
	t.Helper()
	evs, err := db.ListEvents(ctx, store.ListEventsParams{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs), len(ds)
}

func TestFault_DiskFull(t *testing.T) {
	ctx := context.Background()
	dir := mountTmpfs(t, 768<<10)
	path := filepath.Join(dir, "fgwh.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: "https://example.com/h", EventTypes: []string{"recording.imported"}}, t0); err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"type":"recording.imported","recordingId":"` + strings.Repeat("x", 200) + `"}`)
	committed := 0
	var emitErr error
	for i := 0; i < 10000; i++ {
		batch := make([]store.NewEvent, 50)
		for j := range batch {
			batch[j] = store.NewEvent{Type: "recording.imported", Payload: payload}
		}
		if _, emitErr = db.EmitEvents(ctx, batch, t0); emitErr != nil {
			break
		}
		committed += len(batch)
	}
	if emitErr == nil {
		t.Fatal("the disk never filled up")
	}
	if !strings.Contains(emitErr.Error(), "full") || !strings.Contains(emitErr.Error(), path) {
		t.Fatalf("error = %q, want one naming %s and saying the disk is full", emitErr, path)
	}
	t.Logf("disk full after %d events: %v", committed, emitErr)
	db.Close()

	// Everything committed before the failure is still there, and nothing of the failed batch.
	db2, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer db2.Close()
	evs, dls := countRows(t, db2, ctx)
	if evs != committed || dls != committed {
		t.Fatalf("after disk full: %d events and %d deliveries, want %d of each", evs, dls, committed)
	}
}

func TestFault_ReadOnlyFile(t *testing.T) {
	ctx := context.Background()
	dir := mountTmpfs(t, 4<<20)
	path := filepath.Join(dir, "fgwh.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: "https://example.com/h", EventTypes: []string{"recording.imported"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	defer exec.Command("mount", "-o", "remount,rw", dir).Run()

	ro, err := store.Open(ctx, path)
	if err == nil {
		_, err = ro.EmitEvents(ctx, []store.NewEvent{{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}}, t0)
		ro.Close()
	}
	t.Logf("read-only: %v", err)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("write to a read-only database: err = %v, want an error naming the file", err)
	}
	if out, err := exec.Command("mount", "-o", "remount,rw", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount rw: %v: %s", err, out)
	}
	rw, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.GetWebhook(ctx, w.ID); err != nil {
		t.Fatalf("webhook lost: %v", err)
	}
}

func TestFault_LockedByAnotherWriter(t *testing.T) {
	t.Setenv("FGWH_BUSY_TIMEOUT", "100ms")
	b := setup(t)
	b.webhook(t, "a", "recording.imported")
	b.emit(t, "recording.imported", 3)

	// Another connection holds the write lock, as another process would.
	other, err := sql.Open("sqlite", b.path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(b.ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err = b.db.EmitEvents(b.ctx, []store.NewEvent{{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}}, t0)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("emit under another writer's lock: err = %v, want database is locked", err)
	}
	if _, err := conn.ExecContext(b.ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if evs, dls := countRows(t, b.db, b.ctx); evs != 3 || dls != 3 {
		t.Fatalf("after the lock: %d events, %d deliveries; want 3 and 3", evs, dls)
	}
	// And the store works again once the lock is gone.
	b.emit(t, "recording.imported", 1)
}

func TestFault_TruncatedFile(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	b.webhook(t, "a", "recording.imported")
	for i := 0; i < 20; i++ {
		b.emit(t, "recording.imported", 100)
	}
	b.db.Close()
	fi, err := os.Stat(b.path)
	if err != nil {
		t.Fatal(err)
	}
	// Closing checkpointed the WAL into the file; cut the file in half.
	if err := os.Truncate(b.path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	os.Remove(b.path + "-wal")
	os.Remove(b.path + "-shm")
	done := make(chan error, 1)
	go func() {
		db, err := store.Open(ctx, b.path)
		if err == nil {
			defer db.Close()
			_, err = db.ListDeliveries(ctx, store.ListDeliveriesParams{})
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("truncated: %v", err)
		if err == nil || !strings.Contains(err.Error(), b.path) {
			t.Fatalf("reading a truncated database: err = %v, want an error naming the file", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("reading a truncated database hung")
	}
}

// TestFault_EmitBiggerThanCacheRollsBack fails a bulk emit whose
// transaction outgrew the page cache, so SQLite had written some of its
// pages to the WAL before it failed: none of them may count.
func TestFault_EmitBiggerThanCacheRollsBack(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fgwh.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: "https://example.com/h", EventTypes: []string{"recording.imported"}}, t0); err != nil {
		t.Fatal(err)
	}
	const n = 40_000
	batch := make([]store.NewEvent, n)
	for i := range batch {
		batch[i] = store.NewEvent{Type: "recording.imported",
			Payload: fmt.Appendf(nil, `{"type":"recording.imported","recordingId":"rec_%06d","path":"%s"}`, i, strings.Repeat("p", 400))}
	}
	if _, err := db.EmitEvents(ctx, batch[:10], t0); err != nil {
		t.Fatal(err)
	}
	// The last delivery row of the big emit fails it.
	if err := db.ExecForTest(ctx, fmt.Sprintf(`CREATE TRIGGER fail_last AFTER INSERT ON deliveries
		WHEN NEW.rowid = %d BEGIN SELECT RAISE(ABORT, 'injected failure'); END`, 10+n)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.EmitEvents(ctx, batch, t0); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("emit: error %v, want the injected failure", err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < store.CacheKiBForTest<<10 {
		t.Fatalf("the WAL holds %d bytes: the failed emit never outgrew the %d KiB page cache", fi.Size(), store.CacheKiBForTest)
	}
	if evs, dls := countRows(t, db, ctx); evs != 10 || dls != 10 {
		t.Fatalf("after the failed emit: %d events and %d deliveries, want 10 of each", evs, dls)
	}
	if err := db.ExecForTest(ctx, `DROP TRIGGER fail_last`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopened, the file has no trace of it, and takes the same emit whole.
	db2, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if ok, err := db2.QueryIntForTest(ctx, `SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'`); err != nil || ok != 1 {
		t.Fatalf("integrity_check: %d ok rows, %v", ok, err)
	}
	if evs, dls := countRows(t, db2, ctx); evs != 10 || dls != 10 {
		t.Fatalf("reopened: %d events and %d deliveries, want 10 of each", evs, dls)
	}
	if _, err := db2.EmitEvents(ctx, batch, t0); err != nil {
		t.Fatal(err)
	}
	if evs, dls := countRows(t, db2, ctx); evs != 10+n || dls != 10+n {
		t.Fatalf("after the emit: %d events and %d deliveries, want %d of each", evs, dls, 10+n)
	}
}
