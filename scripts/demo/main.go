// Command demo runs fgwh's main job end to end on a throwaway SQLite
// database: it starts "fgwh listen" as a local receiver, creates a webhook
// pointing at it, emits a few events, delivers them with
// "fgwh deliver --once", and shows the deliveries and one delivery's
// attempts. Every step runs the real fgwh command line in this process and
// is printed like a shell session. Nothing is left running, and the
// database is removed at the end.
//
//	go run ./scripts/demo
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/fgwh/fgwh/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first Ctrl-C stops the demo and cleans up; a second one kills it.
	go func() {
		<-ctx.Done()
		stop()
	}()
	dir, err := os.MkdirTemp("", "fgwh-demo-")
	if err == nil {
		err = run(ctx, dir, os.Stdout)
		if rerr := os.RemoveAll(dir); err == nil {
			err = rerr
		}
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// demoEvents are the events the demo emits: two the webhook subscribes to
// and one it does not, which queues no delivery.
var demoEvents = [][]string{
	{"recording.imported", "--data", "recordingId=rec_0001"},
	{"device.created", "--data", "deviceId=dev_0042"},
	{"session.created", "--data", "sessionId=ses_0007"},
	{"recording.imported", "--data", "recordingId=rec_0002"},
}

// run plays the demo with its database in dir, printing to out. It returns
// once everything it started has stopped.
func run(ctx context.Context, dir string, out io.Writer) error {
	con := &console{w: out}
	d := &demo{ctx: ctx, db: filepath.Join(dir, "fgwh.db"), con: con, out: &lineWriter{c: con}}
	d.say("fgwh demo: every command runs with --db %s, a throwaway SQLite database.", d.db)

	// The webhook's URL must name the receiver's port, and the receiver
	// needs the webhook's token, which exists only once the webhook does:
	// so take a free port first, and start the receiver on it right after.
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	d.say("\n# A webhook for recordings and devices, signed with both schemes.")
	created, err := d.fgwh(true, "-o", "json", "webhook", "create", "--url", "http://"+addr+"/hooks",
		"--event", "recording.imported,device.created", "--name", "demo", "--signature-scheme", "both")
	if err != nil {
		return err
	}
	var hook struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(created), &hook); err != nil || hook.Token == "" {
		return fmt.Errorf("read the new webhook's token from %q: %v", created, err)
	}

	d.say("\n# A local receiver for it, running in the background; what it receives is shown with \"listen |\".")
	stopListen, err := d.listen("listen", "--addr", addr, "--token", hook.Token)
	if err != nil {
		return err
	}
	defer stopListen()

	d.say("\n# Events: each queues one delivery per subscribed webhook.")
	for _, ev := range demoEvents {
		if _, err := d.fgwh(true, append([]string{"event", "emit"}, ev...)...); err != nil {
			return err
		}
	}

	d.say("\n# Deliver what is due, then exit. The receiver is on 127.0.0.1, which fgwh refuses unless allowed.")
	if _, err := d.fgwh(true, "deliver", "--once", "--allow-private-networks"); err != nil {
		return err
	}
	// Stop the receiver now so that everything it printed comes before the tables.
	if err := stopListen(); err != nil {
		return err
	}

	d.say("\n# The deliveries, newest first.")
	if _, err := d.fgwh(true, "deliveries", "list"); err != nil {
		return err
	}
	list, err := d.fgwh(false, "-o", "json", "deliveries", "list", "--limit", "1")
	if err != nil {
		return err
	}
	var newest []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(list), &newest); err != nil || len(newest) != 1 {
		return fmt.Errorf("read the newest delivery from %q: %v", list, err)
	}
	d.say("\n# One delivery and its attempts.")
	if _, err := d.fgwh(true, "deliveries", "show", newest[0].ID); err != nil {
		return err
	}
	d.say("\nDone: the receiver has stopped and the database is removed. See README.md for more.")
	return nil
}

// demo runs fgwh commands in-process against one database.
type demo struct {
	ctx context.Context
	db  string
	con *console
	// out is the demo's own lines and the commands' stderr.
	out *lineWriter
}

// say prints a line of narration.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// fgwh runs "fgwh args…" in-process and returns its stdout. When show is
// set it prints the command and its output, as a shell session would.
func (d *demo) fgwh(show bool, args ...string) (string, error) {
	var stdout bytes.Buffer
	ios := &cmd.IO{In: strings.NewReader(""), Out: &stdout, ErrOut: d.out}
	if show {
		d.say("$ fgwh %s", shellJoin(args))
	}
	code := cmd.Main(d.ctx, append([]string{"--db", d.db}, args...), ios)
	if show {
		d.out.Write(stdout.Bytes())
	}
	if code != cmd.ExitOK {
		return stdout.String(), fmt.Errorf("fgwh %s exited %d", shellJoin(args), code)
	}
	return stdout.String(), nil
}

// listen starts "fgwh listen" in-process and waits until it listens. The
// returned function stops it (as Ctrl-C would) and waits for it to exit;
// calling it again does nothing.
func (d *demo) listen(args ...string) (stop func() error, err error) {
	d.say("$ fgwh %s &", shellJoin(args))
	ctx, cancel := context.WithCancel(d.ctx)
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	stdout := &lineWriter{c: d.con, prefix: "  listen | "}
	go func() {
		code := cmd.Main(ctx, append([]string{"--db", d.db}, args...), &cmd.IO{In: strings.NewReader(""), Out: stdout, ErrOut: pw})
		pw.Close()
		done <- code
	}()
	// The first line on stderr says where it listens, or why it could not.
	r := bufio.NewReader(pr)
	first, _ := r.ReadString('\n')
	d.out.Write([]byte(first))
	copied := make(chan struct{})
	go func() {
		errOut := &lineWriter{c: d.con}
		io.Copy(errOut, r)
		errOut.Flush()
		close(copied)
	}()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			code := <-done
			<-copied
			stdout.Flush()
			if code != cmd.ExitOK {
				stopErr = fmt.Errorf("fgwh listen exited %d", code)
			}
		})
		return stopErr
	}
	if !strings.HasPrefix(first, "listening on ") {
		stop()
		return nil, errors.New("fgwh listen did not start")
	}
	return stop, nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// shellJoin quotes args the way a shell user would type them.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`{}*?;&|<>()") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

// console is the demo's output, shared by commands running at the same time.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

// lineWriter writes whole lines to a console, each after prefix, so that
// output from commands running at the same time does not interleave
// mid-line.
type lineWriter struct {
	c      *console
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := l.c.writeLine(l.prefix, l.buf[:i]); err != nil {
			return 0, err
		}
		l.buf = l.buf[i+1:]
	}
}

// Flush writes a last line that has no newline.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.c.writeLine(l.prefix, l.buf)
		l.buf = nil
	}
}

func (c *console) writeLine(prefix string, line []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := fmt.Fprintf(c.w, "%s%s\n", prefix, line)
	return err
}
