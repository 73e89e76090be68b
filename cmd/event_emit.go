package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// EventEmitOptions are the inputs of "fgwh event emit".
type EventEmitOptions struct {
	App *App
	// Type is the event type (one event), or "" with File.
	Type string
	// Payload is the payload object built from --data and --data-json.
	Payload []byte
	// Timestamp is when the event occurred; zero means now.
	Timestamp      time.Time
	IdempotencyKey string
	// File is the JSON-lines file to emit ("-" is stdin), or "".
	File string
}

func newCmdEventEmit(app *App, runF func(*EventEmitOptions) error) *cobra.Command {
	opts := &EventEmitOptions{App: app}
	var data []string
	var dataJSON, timestamp string
	c := &cobra.Command{
		Use:   "emit {<type> [--data <key>=<value>...] [--data-json <json>] [--timestamp <time>] [--idempotency-key <key>] | --file <file>}",
		Short: "Emit an event and queue its deliveries",
		Long: `Emit an event: store it and queue one delivery per enabled webhook
subscribed to its type, in one transaction.

The payload is {"type": TYPE, ...} with the --data pairs (string values,
in the order given), then the keys of --data-json (a JSON object, in its
order). Each type has a required payload key (see "fgwh event types").
--timestamp (RFC 3339) says when the event occurred; it defaults to now.
With --idempotency-key, emitting the same key again returns the first
event and queues nothing.

With --file, each line of FILE ("-" for stdin) is one event:
  {"type": …, "timestamp"?: …, "payload"?: {…}, "idempotencyKey"?: …}
Blank lines are skipped. The whole file is checked before anything is
stored, then stored in one transaction: all of it, or, if any line is
bad, none of it, with the line number of the first bad line.`,
		Example: `  fgwh event emit recording.imported --data recordingId=rec_123
  fgwh event emit device.updated --data-json '{"deviceId":"dev_1","battery":87}'
  fgwh event emit session.created --data sessionId=s1 --idempotency-key ci-run-4711
  fgwh event emit --file events.jsonl
  producer | fgwh event emit --file -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			f := c.Flags()
			if f.Changed("file") {
				if len(args) > 0 {
					return withHint(usagef("give an event type or --file, not both"), "with --file each line names its type")
				}
				for _, name := range []string{"data", "data-json", "timestamp", "idempotency-key"} {
					if f.Changed(name) {
						return withHint(usagef("--%s cannot be used with --file", name), "set it on each line of the file")
					}
				}
				if opts.File == "" {
					return usagef("--file needs a file name, or - for stdin")
				}
			} else {
				if len(args) == 0 {
					return withHint(usagef("event emit needs an event type or --file"), "run 'fgwh event types' to see them")
				}
				opts.Type = args[0]
				if err := checkEmitType(opts.Type); err != nil {
					return err
				}
				members, err := dataMembers(data)
				if err != nil {
					return err
				}
				if f.Changed("data-json") {
					more, err := objectMembers([]byte(dataJSON))
					if err != nil {
						return usagef("--data-json: %v", err)
					}
					members = append(members, more...)
				}
				if opts.Payload, err = buildPayload(nil, opts.Type, members); err != nil {
					return err
				}
				if f.Changed("timestamp") {
					if opts.Timestamp, err = parseTimestamp(timestamp); err != nil {
						return usagef("--timestamp: %v", err)
					}
				}
				if f.Changed("idempotency-key") && opts.IdempotencyKey == "" {
					return usagef("--idempotency-key must not be empty")
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return eventEmitRun(c.Context(), opts)
		},
	}
	c.Flags().StringArrayVar(&data, "data", nil, "a payload `key=value` (a string); repeatable")
	c.Flags().StringVar(&dataJSON, "data-json", "", "payload keys as a JSON `object`")
	c.Flags().StringVar(&timestamp, "timestamp", "", "when the event occurred, RFC 3339 (default: now)")
	c.Flags().StringVar(&opts.IdempotencyKey, "idempotency-key", "", "emit at most once per `key`: a repeat returns the first event")
	c.Flags().StringVar(&opts.File, "file", "", "emit one event per JSON line of `file` (- for stdin)")
	return c
}

// checkEmitType accepts catalogue types other than ping.
func checkEmitType(typ string) error {
	if typ == store.PingEventType {
		return withHint(usagef("ping cannot be emitted with event emit"), "run 'fgwh webhook ping <id>' to ping a webhook")
	}
	if _, ok := store.LookupEventType(typ); !ok {
		return unknownTypeError(typ, emittableTypes())
	}
	return nil
}

// parseTimestamp reads an RFC 3339 time, such as 2022-10-01T06:54:29.078Z.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2022-10-01T06:54:29.078Z", s)
	}
	return t.UTC(), nil
}

func eventEmitRun(ctx context.Context, opts *EventEmitOptions) error {
	if opts.File != "" {
		return emitFileRun(ctx, opts)
	}
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	out, err := db.EmitEvents(ctx, []store.NewEvent{{
		Type:           opts.Type,
		Timestamp:      opts.Timestamp,
		Payload:        opts.Payload,
		IdempotencyKey: opts.IdempotencyKey,
	}}, app.now())
	if err != nil {
		return err
	}
	em := out[0]
	if app.JSON() {
		return writeJSON(app.IO.Out, emittedView{eventView: newEventView(em.Event), Deliveries: em.Deliveries, Duplicate: em.Duplicate})
	}
	if em.Duplicate {
		fmt.Fprintf(app.IO.ErrOut, "Idempotency key %q was used before: this is the first event emitted with it; nothing was queued.\n", em.Event.IdempotencyKey)
	}
	writeFields(app.IO.Out, [][2]string{
		{"id", em.Event.ID},
		{"type", em.Event.Type},
		{"timestamp", formatTime(em.Event.Timestamp)},
		{"deliveries", fmt.Sprintf("%d queued", em.Deliveries)},
	})
	return nil
}

func emitFileRun(ctx context.Context, opts *EventEmitOptions) error {
	app := opts.App
	var r io.Reader = app.IO.In
	name := "stdin"
	if opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return err
		}
		defer f.Close()
		r, name = f, opts.File
	}
	badLine := func(err error) error {
		var le *lineError
		if errors.As(err, &le) {
			return withHint(usagef("%s line %d: %v; nothing was stored", name, le.line, le.err), hintOf(le.err))
		}
		return err
	}
	// Read the whole input before taking the write lock, so a slow
	// producer on stdin never holds up "fgwh deliver".
	data, err := readInput(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	// Lines are parsed a batch at a time, ahead of the store, which
	// stores each batch while the next one is parsed, all in one
	// transaction: a bad line rolls it back. The first batch is parsed
	// before the database is opened, so a small bad file never opens it.
	next := eventBatches(data, emitBatchLines)
	first, err := next()
	if err != nil {
		return badLine(err)
	}
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	var sum emitFileView
	if len(first) > 0 {
		batches, stop := parseAhead(first, next)
		defer stop()
		c, err := db.EmitStream(ctx, lineCount(data), batches, app.now())
		if err != nil {
			return badLine(err)
		}
		sum = emitFileView{Events: c.Events, Deliveries: c.Deliveries, Duplicates: c.Duplicates}
	}
	if app.JSON() {
		return writeJSON(app.IO.Out, sum)
	}
	msg := fmt.Sprintf("Queued %s and %s", plural(sum.Events, "event", "events"), plural(sum.Deliveries, "delivery", "deliveries"))
	if sum.Duplicates > 0 {
		msg += fmt.Sprintf(" (%s skipped)", plural(sum.Duplicates, "duplicate", "duplicates"))
	}
	_, err = fmt.Fprintln(app.IO.Out, msg)
	return err
}

// emitBatchLines is how many lines of an events file make one batch.
const emitBatchLines = 5000

// parseAhead returns a function that returns first, then what next
// returns, which a goroutine calls ahead of it, one batch ahead at most.
// stop ends that goroutine.
func parseAhead(first []store.NewEvent, next func() ([]store.NewEvent, error)) (batches func() ([]store.NewEvent, error), stop func()) {
	type batch struct {
		evs []store.NewEvent
		err error
	}
	ch := make(chan batch, 1)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			evs, err := next()
			select {
			case ch <- batch{evs, err}:
			case <-done:
				return
			}
			if err != nil || len(evs) == 0 {
				return
			}
		}
	}()
	batches = func() ([]store.NewEvent, error) {
		if first != nil {
			evs := first
			first = nil
			return evs, nil
		}
		b, ok := <-ch
		if !ok {
			return nil, nil
		}
		return b.evs, b.err
	}
	return batches, sync.OnceFunc(func() { close(done) })
}

// plural formats n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// lineError is a bad line of an events file.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// eventLine is one line of an events file.
type eventLine struct {
	Type           string          `json:"type"`
	Timestamp      *string         `json:"timestamp"`
	Payload        json.RawMessage `json:"payload"`
	IdempotencyKey *string         `json:"idempotencyKey"`
}

// readInput reads r to the end. A regular file is read into one buffer of
// its size: growing a buffer as it fills would allocate and copy about
// twice the file again, and every new page of memory is a page fault.
func readInput(r io.Reader) ([]byte, error) {
	var data []byte
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			// ReadFrom wants MinRead bytes free before each read, the one
			// that sees the end of the file included.
			data = make([]byte, 0, fi.Size()+bytes.MinRead)
		}
	}
	buf := bytes.NewBuffer(data)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// eventBatches returns a function that parses data's lines into events,
// lines at a time, and returns them; no events and a nil error at the
// end, and a *lineError for the first bad line.
func eventBatches(data []byte, lines int) func() ([]store.NewEvent, error) {
	line := 1
	return func() ([]store.NewEvent, error) {
		for len(data) > 0 {
			chunk := data
			if i := nthIndexByte(data, '\n', lines); i >= 0 {
				chunk = data[:i+1]
			}
			data = data[len(chunk):]
			n := bytes.Count(chunk, []byte("\n"))
			evs, err := parseChunk(make([]store.NewEvent, 0, n+1), chunk, line)
			line += n
			if err != nil || len(evs) > 0 {
				return evs, err
			}
			// Only blank lines: go on to the next chunk.
		}
		return nil, nil
	}
}

// nthIndexByte returns the index of the nth c in b, or -1 if b has fewer.
func nthIndexByte(b []byte, c byte, n int) int {
	at := -1
	for ; n > 0; n-- {
		i := bytes.IndexByte(b[at+1:], c)
		if i < 0 {
			return -1
		}
		at += i + 1
	}
	return at
}

// lineCount is the number of lines in data, the last one counted whether
// or not it ends with a newline.
func lineCount(data []byte) int {
	return bytes.Count(data, []byte("\n")) + 1
}

// arenaChunk is how much payload memory parseChunk allocates at once.
const arenaChunk = 1 << 20

// parseChunk parses the lines of data, the first of which is line number
// first of the file, appending their events to evs. Payloads are packed
// into large shared buffers.
func parseChunk(evs []store.NewEvent, data []byte, first int) ([]store.NewEvent, error) {
	var arena []byte
	var compact bytes.Buffer
	var members []member
	for n := first; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var l eventLine
		if err := parseLine(line, &compact, &members, &l); err != nil {
			return nil, &lineError{n, err}
		}
		ev, err := lineEvent(&l, &members, &arena)
		if err != nil {
			return nil, &lineError{n, err}
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// parseLine decodes one line of an events file into l, strictly: one JSON
// object whose keys are exactly "type", "timestamp", "payload" and
// "idempotencyKey", each at most once (null means absent). l.Payload is
// left compact, pointing into buf. It does without reflection: it is the
// inner loop of a bulk emit.
func parseLine(line []byte, buf *bytes.Buffer, scratch *[]member, l *eventLine) error {
	if !utf8.Valid(line) {
		return errNotUTF8
	}
	buf.Reset()
	if err := json.Compact(buf, line); err != nil {
		// Tell a second value on the line from a broken first one.
		var first json.RawMessage
		if json.NewDecoder(bytes.NewReader(line)).Decode(&first) == nil {
			return errors.New("unexpected data after the JSON object")
		}
		return fmt.Errorf("not valid JSON: %v", err)
	}
	ms, err := splitObject((*scratch)[:0], buf.Bytes())
	*scratch = ms
	if err != nil {
		return fmt.Errorf("not a JSON object of an event: %v", err)
	}
	var seen [4]bool
	for _, m := range ms {
		var i int
		switch m.name {
		case "type":
			i = 0
		case "timestamp":
			i = 1
		case "payload":
			i = 2
		case "idempotencyKey":
			i = 3
		default:
			return fmt.Errorf("unknown field %q: a line has type, timestamp, payload and idempotencyKey", m.name)
		}
		if seen[i] {
			return fmt.Errorf("field %q is given twice", m.name)
		}
		seen[i] = true
		if string(m.val) == "null" {
			continue
		}
		if i == 2 {
			l.Payload = m.val
			continue
		}
		s, err := jsonString(m.val)
		if err != nil {
			return fmt.Errorf("%q must be a string", m.name)
		}
		switch i {
		case 0:
			l.Type = s
		case 1:
			l.Timestamp = &s
		case 3:
			l.IdempotencyKey = &s
		}
	}
	return nil
}

// jsonString decodes a compact JSON string value.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// lineEvent checks one parsed line and builds its event, appending the
// payload to arena.
func lineEvent(l *eventLine, members *[]member, arena *[]byte) (store.NewEvent, error) {
	var ev store.NewEvent
	if l.Type == "" {
		return ev, errors.New(`"type" is missing`)
	}
	if err := checkEmitType(l.Type); err != nil {
		return ev, err
	}
	ev.Type = l.Type
	if l.Timestamp != nil {
		t, err := parseTimestamp(*l.Timestamp)
		if err != nil {
			return ev, fmt.Errorf("timestamp: %v", err)
		}
		ev.Timestamp = t
	}
	if l.IdempotencyKey != nil {
		if *l.IdempotencyKey == "" {
			return ev, errors.New("idempotencyKey must not be empty")
		}
		ev.IdempotencyKey = *l.IdempotencyKey
	}
	*members = (*members)[:0]
	if len(l.Payload) > 0 && string(l.Payload) != "null" {
		ms, err := splitObject((*members)[:0], l.Payload)
		if err != nil {
			return ev, fmt.Errorf("payload: %v", err)
		}
		// A payload copied from a notification carries its type: accept it when it agrees.
		kept := ms[:0]
		for _, m := range ms {
			if m.name == "type" {
				var t string
				if json.Unmarshal(m.val, &t) != nil || t != l.Type {
					return ev, fmt.Errorf(`payload "type" is %s but the line's type is %q`, m.val, l.Type)
				}
				continue
			}
			kept = append(kept, m)
		}
		*members = kept
	}
	size := 16 + len(l.Type) + len(l.Payload)
	if cap(*arena)-len(*arena) < size {
		*arena = make([]byte, 0, max(arenaChunk, size))
	}
	start := len(*arena)
	p, err := buildPayload(*arena, l.Type, *members)
	if err != nil {
		return ev, err
	}
	*arena = p
	ev.Payload = p[start:len(p):len(p)]
	return ev, nil
}
