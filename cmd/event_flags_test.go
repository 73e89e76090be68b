package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

func TestNewCmdEventEmit(t *testing.T) {
	t.Parallel()
	ts := time.Date(2022, 10, 1, 6, 54, 29, 78_000_000, time.UTC)
	tests := []struct {
		name    string
		args    []string
		want    EventEmitOptions
		wantErr string
	}{
		{"data", []string{"recording.imported", "--data", "recordingId=r1"},
			EventEmitOptions{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r1"}`)}, ""},
		{"data in order, then data-json in order", []string{"device.updated", "--data", "z=1", "--data", "deviceId=d=2", "--data-json", `{ "b" : [1, {"c": null}], "a": 2.50 }`},
			EventEmitOptions{Type: "device.updated", Payload: []byte(`{"type":"device.updated","z":"1","deviceId":"d=2","b":[1,{"c":null}],"a":2.50}`)}, ""},
		{"strings are escaped, not HTML-escaped", []string{"event.created", "--data", "eventId=<a & \"b\">\n"},
			EventEmitOptions{Type: "event.created", Payload: []byte(`{"type":"event.created","eventId":"<a & \"b\">\n"}`)}, ""},
		{"empty value of another key", []string{"session.created", "--data", "sessionId=s", "--data", "note="},
			EventEmitOptions{Type: "session.created", Payload: []byte(`{"type":"session.created","sessionId":"s","note":""}`)}, ""},
		{"timestamp and key", []string{"session.created", "--data", "sessionId=s", "--timestamp", "2022-10-01T08:54:29.078+02:00", "--idempotency-key", "k1"},
			EventEmitOptions{Type: "session.created", Payload: []byte(`{"type":"session.created","sessionId":"s"}`), Timestamp: ts, IdempotencyKey: "k1"}, ""},
		{"file", []string{"--file", "events.jsonl"}, EventEmitOptions{File: "events.jsonl"}, ""},
		{"stdin", []string{"--file", "-"}, EventEmitOptions{File: "-"}, ""},

		{"no type", nil, EventEmitOptions{}, "needs an event type or --file"},
		{"unknown type", []string{"recording.deleted"}, EventEmitOptions{}, `unknown event type "recording.deleted"`},
		{"ping", []string{"ping", "--data", "webhookId=whk_1"}, EventEmitOptions{}, "ping cannot be emitted"},
		{"required key missing", []string{"device.created", "--data", "id=1"}, EventEmitOptions{}, `device.created needs payload key "deviceId"`},
		{"required key null", []string{"device.created", "--data-json", `{"deviceId":null}`}, EventEmitOptions{}, "must not be empty"},
		{"data without =", []string{"device.created", "--data", "deviceId"}, EventEmitOptions{}, "want KEY=VALUE"},
		{"data with empty key", []string{"device.created", "--data", "=d"}, EventEmitOptions{}, "the key is empty"},
		{"invalid data-json", []string{"device.created", "--data-json", `{"deviceId":`}, EventEmitOptions{}, "not valid JSON"},
		{"data-json array", []string{"device.created", "--data-json", `["deviceId"]`}, EventEmitOptions{}, "not a JSON object"},
		{"data-json null", []string{"device.created", "--data-json", `null`}, EventEmitOptions{}, "not a JSON object"},
		{"data-json not UTF-8", []string{"device.created", "--data-json", "{\"deviceId\":\"\xff\"}"}, EventEmitOptions{}, "not valid UTF-8"},
		{"key twice across flags", []string{"device.created", "--data", "deviceId=a", "--data-json", `{"deviceId":"b"}`}, EventEmitOptions{}, `"deviceId" is given twice`},
		{"key twice in data-json", []string{"device.created", "--data-json", `{"deviceId":"a","x":1,"x":2}`}, EventEmitOptions{}, `"x" is given twice`},
		{"type as a key", []string{"device.created", "--data", "deviceId=a", "--data-json", `{"type":"device.created"}`}, EventEmitOptions{}, `payload key "type"`},
		{"bad timestamp", []string{"device.created", "--data", "deviceId=a", "--timestamp", "2022-10-01"}, EventEmitOptions{}, "not an RFC 3339 time"},
		{"empty idempotency key", []string{"device.created", "--data", "deviceId=a", "--idempotency-key", ""}, EventEmitOptions{}, "must not be empty"},
		{"file and type", []string{"device.created", "--file", "f"}, EventEmitOptions{}, "not both"},
		{"file and data", []string{"--file", "f", "--data", "a=b"}, EventEmitOptions{}, "--data cannot be used with --file"},
		{"file and timestamp", []string{"--file", "f", "--timestamp", "2022-10-01T06:54:29Z"}, EventEmitOptions{}, "--timestamp cannot be used with --file"},
		{"empty file name", []string{"--file", ""}, EventEmitOptions{}, "--file needs a file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(t, newCmdEventEmit, tt.args, false)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if string(got.Payload) != string(tt.want.Payload) {
				t.Fatalf("payload = %s, want %s", got.Payload, tt.want.Payload)
			}
			got.Payload, tt.want.Payload = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdEventList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    EventListOptions
		wantErr string
	}{
		{"defaults", nil, EventListOptions{Limit: DefaultEventListLimit}, ""},
		{"type and limit", []string{"--type", "ping", "--limit", "5"}, EventListOptions{Type: "ping", Limit: 5}, ""},
		{"all", []string{"--limit", "0"}, EventListOptions{Limit: 0}, ""},
		{"negative", []string{"--limit", "-1"}, EventListOptions{}, "--limit must be 0"},
		{"unknown type", []string{"--type", "x"}, EventListOptions{}, `unknown event type "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(t, newCmdEventList, tt.args, false)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestReadEventLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		payloads []string
		wantLine int
		wantErr  string
	}{
		{"blank lines, CRLF and a BOM", "\xef\xbb\xbf{\"type\":\"device.created\",\"payload\":{\"deviceId\":\"d\"}}\r\n\n  \n{\"payload\":{\"eventId\":\"e\",\"n\":[1, 2]},\"type\":\"event.created\"}",
			[]string{`{"type":"device.created","deviceId":"d"}`, `{"type":"event.created","eventId":"e","n":[1,2]}`}, 0, ""},
		{"escaped key names", `{"t\u0079pe":"device.created","payload":{"device\u0049d":"d"}}`,
			[]string{`{"type":"device.created","device\u0049d":"d"}`}, 0, ""},
		{"unknown field", "\n{\"type\":\"device.created\",\"Payload\":{}}", nil, 2, `unknown field "Payload"`},
		{"field twice", `{"type":"device.created","type":"device.created","payload":{"deviceId":"d"}}`, nil, 1, `"type" is given twice`},
		{"type not a string", `{"type":1}`, nil, 1, `"type" must be a string`},
		{"no type", `{"payload":{"deviceId":"d"}}`, nil, 1, `"type" is missing`},
		{"not an object", `[1]`, nil, 1, "not a JSON object"},
		{"two values", `{"type":"device.created","payload":{"deviceId":"d"}}{}`, nil, 1, "unexpected data after the JSON object"},
		{"broken", "{\"type\":\"device.created\",\"payload\":{\"deviceId\":\"d\"}}\n{\"type\":", nil, 2, "not valid JSON"},
		{"not UTF-8", "{\"type\":\"device.created\",\"payload\":{\"deviceId\":\"\xff\"}}", nil, 1, "not valid UTF-8"},
		{"empty key", `{"type":"device.created","payload":{"deviceId":"d"},"idempotencyKey":""}`, nil, 1, "idempotencyKey must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, err := readEventLines(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				le, ok := err.(*lineError)
				if !ok {
					t.Fatalf("error %v (%T), want a *lineError", err, err)
				}
				if le.line != tt.wantLine {
					t.Fatalf("error names line %d, want %d", le.line, tt.wantLine)
				}
				checkErr(t, usagef("%v", le.err), tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, string(e.Payload))
			}
			if !reflect.DeepEqual(got, tt.payloads) {
				t.Fatalf("payloads = %q, want %q", got, tt.payloads)
			}
		})
	}
}

// TestReadInput_RegularFile checks that a regular file is read into one
// buffer of its size, not one grown (and copied) as it fills.
func TestReadInput_RegularFile(t *testing.T) {
	const size = 4 << 20
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	data, err := readInput(f)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != size {
		t.Fatalf("read %d bytes, want %d", len(data), size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size+size/8 {
		t.Fatalf("reading a %d-byte file allocated %d bytes", size, alloc)
	}
}

// readEventLines parses a whole events file as "event emit --file" does,
// in batches of a few lines.
func readEventLines(r io.Reader) ([]store.NewEvent, error) {
	data, err := readInput(r)
	if err != nil {
		return nil, err
	}
	next := eventBatches(data, 3)
	var all []store.NewEvent
	for {
		evs, err := next()
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return all, nil
		}
		all = append(all, evs...)
	}
}

// TestEventBatches covers big inputs, parsed in batches: events keep the
// file's order across batches and blank lines (a whole batch of them
// included), and a bad line is reported with its line number in the file
// whichever batch it is in, after the batches before it.
func TestEventBatches(t *testing.T) {
	t.Parallel()
	const n, size = 30_000, 1000
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"type":"device.created","payload":{"deviceId":"d%06d"}}`, i)
	}
	// Every 1,000th line is blank, and so is a whole batch's worth.
	for i := 999; i < n; i += 1000 {
		lines[i] = "  "
	}
	for i := 5000; i < 6000; i++ {
		lines[i] = ""
	}
	file := func(bad ...int) []byte {
		ls := slices.Clone(lines)
		for _, b := range bad {
			ls[b-1] = `{"type":"device.created"}`
		}
		return []byte(strings.Join(ls, "\n") + "\n")
	}
	next := eventBatches(file(), size)
	var evs []store.NewEvent
	batches := 0
	for {
		b, err := next()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			break
		}
		if len(b) > size {
			t.Fatalf("a batch of %d events from %d lines", len(b), size)
		}
		batches++
		evs = append(evs, b...)
	}
	if want := n - 1000 - n/1000 + 1; len(evs) != want || batches != 29 {
		t.Fatalf("%d events in %d batches, want %d in 29", len(evs), batches, want)
	}
	i := 0
	for _, e := range evs {
		for strings.TrimSpace(lines[i]) == "" {
			i++
		}
		if want := fmt.Sprintf(`"deviceId":"d%06d"`, i); !strings.Contains(string(e.Payload), want) {
			t.Fatalf("event for line %d: payload %s, want %s", i+1, e.Payload, want)
		}
		i++
	}
	for _, bad := range [][]int{{n}, {n / 2, n}, {7, n - 1}, {1}, {size + 1}} {
		next := eventBatches(file(bad...), size)
		good := 0
		var err error
		for {
			var b []store.NewEvent
			if b, err = next(); err != nil || len(b) == 0 {
				break
			}
			good += len(b)
		}
		le, ok := err.(*lineError)
		if !ok || le.line != bad[0] {
			t.Fatalf("bad lines %v: error %v, want line %d", bad, err, bad[0])
		}
		if good > bad[0] {
			t.Fatalf("bad lines %v: %d events before the error", bad, good)
		}
	}
}

// TestNthIndexByte checks the batch cutter at its edges.
func TestNthIndexByte(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		b    string
		n    int
		want int
	}{
		{"a\nb\nc\n", 1, 1}, {"a\nb\nc\n", 3, 5}, {"a\nb\nc\n", 4, -1}, {"", 1, -1}, {"\n\n", 2, 1},
	} {
		if got := nthIndexByte([]byte(tt.b), '\n', tt.n); got != tt.want {
			t.Errorf("nthIndexByte(%q, %d) = %d, want %d", tt.b, tt.n, got, tt.want)
		}
	}
}

// TestEmitFile_BadLineInALaterBatch emits a file of several batches
// whose last line is bad: the batches before it were stored in the
// transaction when the bad line was parsed, and must not be there after.
func TestEmitFile_BadLineInALaterBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "fgwh.db")
	run := func(args ...string) (int, string, string) {
		io, _, out, errOut := TestIO()
		code := Main(context.Background(), append([]string{"--db", db}, args...), io)
		return code, out.String(), errOut.String()
	}
	if code, _, errOut := run("webhook", "create", "--url", "https://example.com/h", "--event", "recording.imported"); code != 0 {
		t.Fatalf("webhook create: exit %d: %s", code, errOut)
	}
	const n = 3*emitBatchLines + 10
	var file bytes.Buffer
	for i := range n {
		fmt.Fprintf(&file, `{"type":"recording.imported","payload":{"recordingId":"r%d"}}`+"\n", i)
	}
	good := filepath.Join(dir, "good.jsonl")
	if err := os.WriteFile(good, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	file.WriteString(`{"type":"recording.imported","payload":{}}` + "\n")
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("event", "emit", "--file", bad)
	if want := fmt.Sprintf("fgwh: %s line %d: recording.imported needs payload key \"recordingId\"; nothing was stored\n", bad, n+1); code != 2 || out != "" || !strings.HasPrefix(errOut, want) {
		t.Fatalf("bad file: exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, want)
	}
	if code, out, _ := run("event", "list", "-o", "json"); code != 0 || out != "[]\n" {
		t.Fatalf("after the bad file: event list exit %d: %.200s", code, out)
	}
	code, out, errOut = run("event", "emit", "--file", good, "-o", "json")
	if want := fmt.Sprintf("{\n  \"events\": %d,\n  \"deliveries\": %d,\n  \"duplicates\": 0\n}\n", n, n); code != 0 || out != want {
		t.Fatalf("good file: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
}
