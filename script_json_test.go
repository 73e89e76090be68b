package main

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdJSONEnv sets an environment variable from the JSON document on the
// last command's stdout, so scripts can use the ids fgwh makes up:
//
//	exec fgwh -o json deliveries list
//	jsonenv ID 0.id
//
// The path is dot-separated keys and array indexes; "" is the whole
// document. Strings are set as they are, anything else as JSON.
func cmdJSONEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonenv VAR PATH")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("jsonenv: stdout is not JSON: %v", err)
	}
	if args[1] != "" {
		for _, key := range strings.Split(args[1], ".") {
			switch x := v.(type) {
			case map[string]any:
				val, ok := x[key]
				if !ok {
					ts.Fatalf("jsonenv: no key %q in %s", key, args[1])
				}
				v = val
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i < 0 || i >= len(x) {
					ts.Fatalf("jsonenv: no index %q in %s (length %d)", key, args[1], len(x))
				}
				v = x[i]
			default:
				ts.Fatalf("jsonenv: %q of %s is not in an object or array", key, args[1])
			}
		}
	}
	if s, ok := v.(string); ok {
		ts.Setenv(args[0], s)
		return
	}
	b, err := json.Marshal(v)
	ts.Check(err)
	ts.Setenv(args[0], string(b))
}
