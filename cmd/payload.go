package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fgwh/fgwh/store"
)

// A payload is the notification's payload object exactly as it is stored,
// signed and sent: "type" first, then the caller's keys in the order given
// (for "event emit": --data pairs in order, then --data-json's keys in
// order; for --file: the line's payload keys in order). Values from JSON
// input are kept as written, minus insignificant whitespace.

// member is one key of a payload: its decoded name and its raw JSON
// (key as a JSON string, value as compact JSON).
type member struct {
	name string
	key  []byte
	val  []byte
}

// buildPayload appends the payload object for typ with members to dst,
// after checking the members against the catalogue: no "type" key, no key
// twice, the type's required key present and neither null nor "".
func buildPayload(dst []byte, typ string, members []member) ([]byte, error) {
	et, ok := store.LookupEventType(typ)
	if !ok {
		return nil, unknownTypeError(typ, emittableTypes())
	}
	if err := checkMembers(et, members); err != nil {
		return nil, err
	}
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, typ)
	for _, m := range members {
		dst = append(dst, ',')
		dst = append(dst, m.key...)
		dst = append(dst, ':')
		dst = append(dst, m.val...)
	}
	return append(dst, '}'), nil
}

func checkMembers(et store.EventType, members []member) error {
	var seen map[string]bool
	if len(members) > 16 {
		seen = make(map[string]bool, len(members))
	}
	found := false
	for i, m := range members {
		if m.name == "type" {
			return usagef(`payload key "type" is set from the event type; remove it`)
		}
		dup := false
		if seen != nil {
			dup = seen[m.name]
			seen[m.name] = true
		} else {
			for _, o := range members[:i] {
				if o.name == m.name {
					dup = true
					break
				}
			}
		}
		if dup {
			return usagef("payload key %q is given twice", m.name)
		}
		if m.name == et.RequiredKey {
			if string(m.val) == "null" || string(m.val) == `""` {
				return usagef("payload key %q of %s must not be empty", et.RequiredKey, et.Name)
			}
			found = true
		}
	}
	if !found {
		return withHint(usagef("%s needs payload key %q", et.Name, et.RequiredKey),
			fmt.Sprintf("add --data %s=VALUE", et.RequiredKey))
	}
	return nil
}

// unknownTypeError names an event type that is not in the catalogue and
// lists the valid ones.
func unknownTypeError(typ string, valid []string) error {
	return withHint(usagef("unknown event type %q", typ), "valid types: "+strings.Join(valid, ", "))
}

// emittableTypes lists the types "event emit" and webhooks accept: all but ping.
func emittableTypes() []string {
	var names []string
	for _, t := range store.EventTypes {
		if t.Subscribable {
			names = append(names, t.Name)
		}
	}
	return names
}

// allTypes lists the whole catalogue.
func allTypes() []string {
	names := make([]string, 0, len(store.EventTypes))
	for _, t := range store.EventTypes {
		names = append(names, t.Name)
	}
	return names
}

// dataMembers turns --data KEY=VALUE pairs into string members.
func dataMembers(pairs []string) ([]member, error) {
	members := make([]member, 0, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, withHint(usagef("--data %q: want KEY=VALUE", p), "use --data-json for values that are not strings")
		}
		if k == "" {
			return nil, usagef("--data %q: the key is empty", p)
		}
		members = append(members, member{name: k, key: appendJSONString(nil, k), val: appendJSONString(nil, v)})
	}
	return members, nil
}

// objectMembers splits a JSON object into its members, in order. The
// object is compacted first, which also validates it.
func objectMembers(raw []byte) ([]member, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return splitObject(nil, buf.Bytes())
}

var (
	errNotObject = errors.New("not a JSON object")
	errNotUTF8   = errors.New("not valid UTF-8")
)

// splitObject appends to dst the top-level members of b, a compact, valid
// JSON value, when it is an object. The member slices point into b.
// encoding/json lets invalid UTF-8 through inside strings, but JSON sent
// between systems must be UTF-8 (RFC 8259 section 8.1) and strict receivers
// (Python's json.loads on bytes) refuse the whole body, so it is refused here.
func splitObject(dst []member, b []byte) ([]member, error) {
	if len(b) < 2 || b[0] != '{' {
		return nil, errNotObject
	}
	if !utf8.Valid(b) {
		return nil, errNotUTF8
	}
	members := dst
	i := 1
	if b[i] == '}' {
		return members, nil
	}
	for {
		// Key: a string.
		end := skipString(b, i)
		key := b[i:end]
		name := string(key[1 : len(key)-1])
		if bytes.IndexByte(key, '\\') >= 0 {
			if err := json.Unmarshal(key, &name); err != nil {
				return nil, err
			}
		}
		i = end + 1 // past ':'
		end = skipValue(b, i)
		members = append(members, member{name: name, key: key, val: b[i:end]})
		i = end
		if b[i] == '}' {
			return members, nil
		}
		i++ // past ','
	}
}

// skipString returns the index just past the JSON string starting at b[i].
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the compact JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // a number, true, false or null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		return j
	}
}

// appendJSONString appends s as a JSON string, without the HTML escaping
// encoding/json adds: what the user typed is what the receiver gets.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript string literals; encoding/json escapes them too.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
