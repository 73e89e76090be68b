package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fgwh/fgwh/cmd"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this test binary as the "fgwh" command, so
// scripts exercise the real command line in a real process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fgwh": func() { os.Exit(cmd.Main(context.Background(), os.Args[1:], cmd.SystemIO())) },
	})
}

// TestScripts runs every testdata/script/*.txtar. Each script gets its own
// work directory, HOME and FGWH_DB.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, scriptParams("testdata/script"))
}

func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, ".data"))
			env.Setenv("FGWH_DB", filepath.Join(env.WorkDir, "fgwh.db"))
			return nil
		},
		Cmds:                scriptCmds,
		Condition:           backendCondition("sqlite"),
		RequireExplicitExec: false,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") == "1",
	}
}

// scriptCmds are the custom commands scripts can use besides fgwh.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exits":     cmdExits,
	"jsonenv":   cmdJSONEnv,
	"lockdb":    cmdLockDB,
	"unlockdb":  cmdUnlockDB,
	"quotemeta": cmdQuoteMeta,
}

// cmdExits runs a command and asserts its exact exit code:
//
//	exits 2 fgwh webhook create --url ftp://x
//
// Its stdout and stderr are then checked with stdout and stderr as usual.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d\nstderr: %s", args[1], got, want, ts.ReadFile("stderr"))
	}
}
