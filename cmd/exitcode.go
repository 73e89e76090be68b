package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgwh/fgwh/store"
)

// Exit codes (SPEC.md; all listed in README.md).
const (
	// ExitOK is success, including a listing with no results.
	ExitOK = 0
	// ExitError is an operational failure: database, network, I/O.
	ExitError = 1
	// ExitUsage is invalid input: unknown flag, bad value, unknown event type, bad URL.
	ExitUsage = 2
	// ExitNotFound means no such webhook, event or delivery.
	ExitNotFound = 3
	// ExitDeliveryFailed is "deliver --once" when a delivery it attempted ended failed.
	ExitDeliveryFailed = 4
	// ExitInterrupted is a second Ctrl-C that aborted a command.
	ExitInterrupted = 130
)

// usageError is invalid input. Main prints it with its hint and exits 2.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// withHint adds a hint line to a usage error.
func withHint(err error, hint string) error {
	var ue *usageError
	if errors.As(err, &ue) {
		return &usageError{msg: ue.msg, hint: hint}
	}
	return &hintError{err: err, hint: hint}
}

// hintError is any error with a hint line.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// exitError carries an exit code chosen by a command, such as 4 from
// "deliver --once" or 1 from "verify"; msg may be empty when the command
// already said everything.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, store.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, store.ErrNameTaken), errors.Is(err, store.ErrWebhookDisabled):
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return ExitError
}

// hintOf returns the hint attached to err, if any.
func hintOf(err error) string {
	var ue *usageError
	if errors.As(err, &ue) && ue.hint != "" {
		return ue.hint
	}
	var he *hintError
	if errors.As(err, &he) {
		return he.hint
	}
	return ""
}
