package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fgwh/fgwh/store"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and run with go test.
// To search for more inputs:
//
//	go test ./cmd -run '^$' -fuzz '^FuzzEventEmitFlags$' -fuzztime 1m
//	go test ./cmd -run '^$' -fuzz '^FuzzReadEventLines$' -fuzztime 1m
//	go test ./cmd -run '^$' -fuzz '^FuzzValidateURL$' -fuzztime 1m

// FuzzEventEmitFlags runs "event emit TYPE --data … --data-json …" as the
// command parses it. data holds the --data values, one per line. An accepted
// payload must be a compact JSON object whose first key is "type" with the
// event type, with no key twice, the type's required key set, each --data
// pair as a string and each --data-json member as given. A refusal must be a
// usage error (exit 2).
func FuzzEventEmitFlags(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ, data string, dataJSON string, useJSON bool) {
		var pairs []string
		if data != "" {
			pairs = strings.Split(data, "\n")
		}
		args := make([]string, 0, 2+len(pairs)+2)
		for _, p := range pairs {
			args = append(args, "--data="+p)
		}
		if useJSON {
			args = append(args, "--data-json="+dataJSON)
		}
		args = append(args, "--", typ)

		ios, _, _, _ := TestIO()
		var got *EventEmitOptions
		c := newCmdEventEmit(NewApp(ios), func(o *EventEmitOptions) error { got = o; return nil })
		c.SetArgs(args)
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		err := c.Execute()
		if err != nil {
			if code := exitCode(err); code != ExitUsage {
				t.Fatalf("args %q: exit code %d (%v), want %d", args, code, err, ExitUsage)
			}
			return
		}
		want := make([]kv, 0, len(pairs))
		for _, p := range pairs {
			k, v, _ := strings.Cut(p, "=")
			want = append(want, kv{k, mustMarshal(t, v)})
		}
		if useJSON {
			jsonMembers, err := decodeMembers([]byte(dataJSON))
			if err != nil {
				t.Fatalf("args %q: accepted --data-json that does not decode as an object: %v", args, err)
			}
			want = append(want, jsonMembers...)
		}
		checkPayload(t, got.Payload, typ, want)
	})
}

// FuzzReadEventLines parses an events file as "event emit --file" does.
// Accepted files give one event per non-blank line, each with an emittable
// type and a payload as checkPayload wants, intact after the whole file is
// read (payloads share buffers). A refusal names a line of the file.
func FuzzReadEventLines(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) {
		evs, err := readEventLines(bytes.NewReader(file))
		lines := bytes.Split(bytes.TrimSuffix(file, []byte("\n")), []byte("\n"))
		if err != nil {
			var le *lineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *lineError", err)
			}
			if le.line < 1 || le.line > len(lines) {
				t.Fatalf("error names line %d of a file of %d lines", le.line, len(lines))
			}
			return
		}
		var want []eventLine
		for i, line := range lines {
			if i == 0 {
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var l eventLine
			if err := json.Unmarshal(line, &l); err != nil {
				t.Fatalf("line %d was accepted but does not decode: %v\n%q", i+1, err, line)
			}
			want = append(want, l)
		}
		if len(evs) != len(want) {
			t.Fatalf("%d events from %d non-blank lines", len(evs), len(want))
		}
		for i, ev := range evs {
			l := want[i]
			if ev.Type != l.Type {
				t.Fatalf("event %d: type %q, line says %q", i, ev.Type, l.Type)
			}
			if et, ok := store.LookupEventType(ev.Type); !ok || !et.Subscribable {
				t.Fatalf("event %d: type %q cannot be emitted", i, ev.Type)
			}
			if (l.IdempotencyKey != nil) != (ev.IdempotencyKey != "") ||
				(l.IdempotencyKey != nil && *l.IdempotencyKey != ev.IdempotencyKey) {
				t.Fatalf("event %d: idempotency key %q, line says %v", i, ev.IdempotencyKey, l.IdempotencyKey)
			}
			if (l.Timestamp != nil) == ev.Timestamp.IsZero() {
				t.Fatalf("event %d: timestamp %v, line says %v", i, ev.Timestamp, l.Timestamp)
			}
			var members []kv
			if len(l.Payload) > 0 && string(l.Payload) != "null" {
				var err error
				if members, err = decodeMembers(l.Payload); err != nil {
					t.Fatalf("event %d: accepted payload %s does not decode as an object: %v", i, l.Payload, err)
				}
				// A "type" member that agrees with the line is dropped.
				kept := members[:0]
				for _, m := range members {
					if m.key != "type" {
						kept = append(kept, m)
					}
				}
				members = kept
			}
			checkPayload(t, ev.Payload, ev.Type, members)
		}
	})
}

// FuzzValidateURL checks that every URL "webhook create" and "edit" accept
// is an absolute http or https URL with a host, free of whitespace and
// control characters, that net/http can build a request for, so that no
// stored webhook fails every attempt with invalid_url. A refusal must be a
// usage error.
func FuzzValidateURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		err := validateURL(raw)
		if err != nil {
			if code := exitCode(err); code != ExitUsage {
				t.Fatalf("validateURL(%q): exit code %d (%v), want %d", raw, code, err, ExitUsage)
			}
			return
		}
		if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			t.Fatalf("validateURL(%q) accepted whitespace or a control character", raw)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("validateURL(%q) accepted a URL that does not parse: %v", raw, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" || u.Opaque != "" || !u.IsAbs() {
			t.Fatalf("validateURL(%q) accepted scheme %q, host %q, opaque %q", raw, u.Scheme, u.Host, u.Opaque)
		}
		if _, err := http.NewRequest(http.MethodPost, raw, nil); err != nil {
			t.Fatalf("validateURL(%q) accepted a URL net/http cannot request: %v", raw, err)
		}
	})
}

// kv is one member of a JSON object: its key and its value as JSON.
type kv struct {
	key string
	val []byte
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeMembers reads the top-level members of a JSON object in order.
func decodeMembers(b []byte) ([]kv, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var members []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		members = append(members, kv{tok.(string), raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return members, nil
}

// checkPayload checks a built payload: compact JSON, an object whose first
// key is "type" set to typ, then exactly the members want (values compared
// as decoded JSON), no key twice, and the type's required key non-empty.
func checkPayload(t *testing.T, payload []byte, typ string, want []kv) {
	t.Helper()
	if !json.Valid(payload) {
		t.Fatalf("payload is not valid JSON: %q", payload)
	}
	if !utf8.Valid(payload) {
		t.Fatalf("payload is not valid UTF-8: %q", payload)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil || !bytes.Equal(compact.Bytes(), payload) {
		t.Fatalf("payload is not compact: %q", payload)
	}
	got, err := decodeMembers(payload)
	if err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	if len(got) == 0 || got[0].key != "type" || string(got[0].val) != string(mustMarshal(t, typ)) {
		t.Fatalf("payload %q does not start with \"type\": %q", payload, typ)
	}
	got = got[1:]
	if len(got) != len(want) {
		t.Fatalf("payload %q has %d members after type, want %d", payload, len(got), len(want))
	}
	seen := map[string]bool{"type": true}
	et, _ := store.LookupEventType(typ)
	required := false
	for i := range got {
		if got[i].key != want[i].key {
			t.Fatalf("payload %q: member %d is %q, want %q", payload, i+1, got[i].key, want[i].key)
		}
		if !sameJSON(got[i].val, want[i].val) {
			t.Fatalf("payload %q: %q is %s, want %s", payload, got[i].key, got[i].val, want[i].val)
		}
		if seen[got[i].key] {
			t.Fatalf("payload %q: key %q twice", payload, got[i].key)
		}
		seen[got[i].key] = true
		if got[i].key == et.RequiredKey {
			if v := string(got[i].val); v == "null" || v == `""` {
				t.Fatalf("payload %q: required key %q is empty", payload, et.RequiredKey)
			}
			required = true
		}
	}
	if !required {
		t.Fatalf("payload %q lacks the required key %q", payload, et.RequiredKey)
	}
}

// sameJSON reports whether two JSON values decode equal (numbers compared
// as written, strings after decoding, invalid UTF-8 as U+FFFD).
func sameJSON(a, b []byte) bool {
	var va, vb any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// FuzzParseAge checks --older-than and --since ages: an accepted age is not
// negative and reads back the same from its Go duration form; --since never
// panics and an age gives now minus that age. A refusal is a usage error.
func FuzzParseAge(f *testing.F) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseAge("--older-than", s)
		if err != nil {
			if code := exitCode(err); code != ExitUsage {
				t.Fatalf("parseAge(%q): exit code %d (%v), want %d", s, code, err, ExitUsage)
			}
		} else {
			if d < 0 {
				t.Fatalf("parseAge(%q) = %v, negative", s, d)
			}
			if again, err := parseAge("--older-than", d.String()); err != nil || again != d {
				t.Fatalf("parseAge(%q) = %v, but parseAge(%q) = %v, %v", s, d, d.String(), again, err)
			}
		}
		since, err := parseSince(s, now)
		if err != nil {
			if code := exitCode(err); code != ExitUsage {
				t.Fatalf("parseSince(%q): exit code %d (%v), want %d", s, code, err, ExitUsage)
			}
			return
		}
		if since.Location() != time.UTC {
			t.Fatalf("parseSince(%q) = %v, not UTC", s, since)
		}
	})
}
