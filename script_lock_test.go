package main

import (
	"context"
	"database/sql"
	"regexp"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite" // the "sqlite" driver, for lockdb
)

// heldLocks maps a database path to the connection holding its write lock.
var heldLocks sync.Map

// cmdLockDB holds SQLite's write lock on a database file from this test
// process, as another writer would, until unlockdb (or the script's end):
//
//	lockdb fgwh.db
//	env FGWH_BUSY_TIMEOUT=200ms
//	exits 1 fgwh event emit …
//	unlockdb fgwh.db
func cmdLockDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lockdb FILE")
	}
	path := ts.MkAbs(args[0])
	db, err := sql.Open("sqlite", path)
	ts.Check(err)
	conn, err := db.Conn(context.Background())
	ts.Check(err)
	// BEGIN IMMEDIATE takes the write lock now and keeps it until ROLLBACK.
	_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	ts.Check(err)
	if _, loaded := heldLocks.LoadOrStore(path, conn); loaded {
		ts.Fatalf("lockdb: %s is already locked", args[0])
	}
	ts.Defer(func() {
		if _, ok := heldLocks.LoadAndDelete(path); ok {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
		}
		db.Close()
	})
}

// cmdUnlockDB releases the lock lockdb took.
func cmdUnlockDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unlockdb FILE")
	}
	v, ok := heldLocks.LoadAndDelete(ts.MkAbs(args[0]))
	if !ok {
		ts.Fatalf("unlockdb: %s is not locked", args[0])
	}
	conn := v.(*sql.Conn)
	_, err := conn.ExecContext(context.Background(), "ROLLBACK")
	ts.Check(err)
	ts.Check(conn.Close())
}

// cmdQuoteMeta replaces each named environment variable's value with its
// regexp.QuoteMeta form, so scripts can look for a value that holds
// metacharacters, such as a token's base64 "+", with stdout:
//
//	quotemeta TOKEN
//	! stdout $TOKEN
func cmdQuoteMeta(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: quotemeta VAR...")
	}
	for _, name := range args {
		ts.Setenv(name, regexp.QuoteMeta(ts.Getenv(name)))
	}
}
