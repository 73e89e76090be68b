package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Waking deliver processes on SQLite. PRAGMA data_version changes when
// another connection commits, but reading it is a read transaction, and a
// Go timer firing every 10 ms costs about 1.5% of a core on our build
// machines by itself. So on Linux the watcher sleeps on inotify events for
// the WAL file (every commit writes it) and reads data_version only then,
// at most once per poll interval; elsewhere it polls, reading data_version
// only when the WAL file's size or time changed.

const (
	// walRecent is how long after the WAL file's last modification the
	// polling watcher keeps reading data_version: file times follow the
	// kernel's coarse clock, so two commits in one tick can leave the
	// same time and size.
	walRecent = 50 * time.Millisecond
	// walRecheck bounds how long a commit could go unseen if the file
	// events or times were ever to miss it.
	walRecheck = time.Second
)

func (db *DB) watchSQLite(ctx context.Context, poll time.Duration) <-chan struct{} {
	ch := make(chan struct{}, 1)
	wal := db.where + "-wal"
	events := walEvents(ctx, filepath.Dir(wal), filepath.Base(wal))
	go func() {
		defer close(ch)
		tick := poll
		if events != nil {
			tick = walRecheck
		}
		t := time.NewTimer(tick)
		defer t.Stop()
		var last int64 = -1
		var st walState
		var lastRead, hot time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if events == nil && !st.changed(wal, time.Now()) {
					t.Reset(tick)
					continue
				}
			case <-events:
				// Our own commits write the WAL too: read at most once a poll.
				if wait := poll - time.Since(lastRead); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
				// The WAL is written before the commit is published in the
				// shared index (an mmap, which raises no file event), so a
				// read right after the event can still see the old
				// data_version: keep reading every poll for a little while.
				hot = time.Now().Add(walRecent)
			}
			lastRead = time.Now()
			if events != nil && lastRead.Before(hot) {
				t.Reset(poll)
			} else {
				t.Reset(tick)
			}
			var v int64
			if err := db.sql.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
				continue
			}
			if last >= 0 && v != last {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			last = v
		}
	}()
	return ch
}

// walState remembers what a polling watcher last saw of the WAL file.
type walState struct {
	size    int64
	mtime   time.Time
	checked time.Time
}

// changed reports whether data_version must be read: the WAL file changed
// or was modified recently, it cannot be read, or walRecheck has passed.
func (w *walState) changed(path string, now time.Time) bool {
	// No WAL file (no write since the last connection closed) is a state
	// too: the next commit creates it.
	size, mtime := int64(-1), time.Time{}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		size, mtime = fi.Size(), fi.ModTime()
	case !errors.Is(err, fs.ErrNotExist):
		return true
	}
	same := size == w.size && mtime.Equal(w.mtime) && !w.checked.IsZero()
	if same && now.Sub(mtime) > walRecent && now.Sub(w.checked) < walRecheck {
		return false
	}
	w.size, w.mtime, w.checked = size, mtime, now
	return true
}
