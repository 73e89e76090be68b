package main

import (
	"encoding/json"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["envjson"] = cmdEnvJSON
}

// cmdEnvJSON sets an environment variable to a string field of the JSON
// object the previous command printed, so later commands can use an id:
//
//	exec fgwh -o json webhook create --url http://127.0.0.1:9/ --event ping
//	envjson WEBHOOK id
//	exec fgwh webhook show $WEBHOOK
func cmdEnvJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envjson NAME FIELD")
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &obj); err != nil {
		ts.Fatalf("envjson: stdout is not a JSON object: %v", err)
	}
	v, ok := obj[args[1]].(string)
	if !ok {
		ts.Fatalf("envjson: stdout has no string field %q", args[1])
	}
	ts.Setenv(args[0], v)
}
