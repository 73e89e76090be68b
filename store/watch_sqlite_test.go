package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWALState_Changed covers the polling watcher used where inotify does
// not exist: it reads data_version only when the WAL file may have changed.
func TestWALState_Changed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db-wal")
	var w walState
	now := time.Now()
	if !w.changed(path, now) {
		t.Fatal("first check: want a read")
	}
	if w.changed(path, now.Add(time.Millisecond)) {
		t.Fatal("no WAL file, nothing changed: want no read")
	}
	if err := os.WriteFile(path, []byte("frame"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	mtime := fi.ModTime()
	if !w.changed(path, mtime) {
		t.Fatal("WAL file created: want a read")
	}
	if !w.changed(path, mtime.Add(walRecent)) {
		t.Fatal("same size and time, but modified recently: want a read")
	}
	if w.changed(path, mtime.Add(walRecent+time.Millisecond)) {
		t.Fatal("unchanged and not recent: want no read")
	}
	if !w.changed(path, mtime.Add(walRecent+walRecheck+time.Millisecond)) {
		t.Fatal("recheck interval passed: want a read")
	}
	if err := os.WriteFile(path, []byte("frame frame"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !w.changed(path, mtime.Add(3*walRecheck)) {
		t.Fatal("size changed: want a read")
	}
}
