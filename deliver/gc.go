package deliver

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector target "fgwh deliver" runs with
// unless GOGC is set. The loop's live heap is a few megabytes while every
// attempt allocates (request, response, statement arguments): at Go's
// default of 100 the collector ran every few thousand deliveries and took
// a tenth of the loop's instructions. 400 lets the heap grow to five times
// the live data between collections, still tens of megabytes.
const GCPercent = 400

// TuneGC sets GCPercent unless the GOGC environment variable chooses.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
