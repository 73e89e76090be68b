// Command bareinsert is BenchmarkEmitProcess's baseline: the least a Go
// process can do to store one row in SQLite the way fgwh does, with the
// same driver and journal mode. It opens the file named by its argument
// in WAL mode, creates a one-column table if there is none, inserts one
// row and exits.
package main

import (
	"database/sql"
	"fmt"
	"os"

	_ "modernc.org/sqlite"
)

func main() {
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "bareinsert:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`); err != nil {
		return err
	}
	_, err = db.Exec(`INSERT INTO t (v) VALUES ('x')`)
	return err
}
