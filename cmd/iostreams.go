package cmd

import (
	"bytes"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IO holds the streams a command reads and writes. Commands never touch
// os.Stdout directly, so tests can capture everything.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY and OutTTY are true when stdin and stdout are terminals.
	InTTY  bool
	OutTTY bool
	// ErrTTY is true when stderr is a terminal (progress goes there).
	ErrTTY bool
}

// SystemIO returns the process's standard streams.
func SystemIO() *IO {
	return &IO{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY: isTerminal(os.Stdin), OutTTY: isTerminal(os.Stdout), ErrTTY: isTerminal(os.Stderr),
	}
}

// TestIO returns streams backed by buffers: stdin, stdout, stderr.
func TestIO() (*IO, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IO{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// isTerminal reports whether f is a terminal. A character-device check is
// not enough: /dev/null is one, and "delete < /dev/null" must not prompt.
func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd())
}
