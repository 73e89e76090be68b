package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// TestSoak_Drain is the load soak, not run by CI: 100,000 pending deliveries
// across 1,000 webhooks, drained by one "fgwh deliver --once" process to a
// receiver on 127.0.0.1. It reports the drain rate and the deliver
// process's peak RSS (its VmHWM, from getrusage). Run it with
//
//	FGWH_SOAK=1 go test -run TestSoak -v -timeout 30m .
//
// FGWH_SOAK_WEBHOOKS, FGWH_SOAK_EVENTS (deliveries = webhooks × events) and
// FGWH_SOAK_ARGS (extra deliver flags, space-separated) change the load.
func TestSoak_Drain(t *testing.T) {
	if os.Getenv("FGWH_SOAK") != "1" {
		t.Skip("set FGWH_SOAK=1 to run the load soak")
	}
	webhooks, events := soakInt(t, "FGWH_SOAK_WEBHOOKS", 1000), soakInt(t, "FGWH_SOAK_EVENTS", 100)
	n := webhooks * events
	rc := newKeyReceiver(t)
	start := time.Now()
	b := setupFaults(t, rc.URL, webhooks, events)
	t.Logf("queued %d deliveries (%d webhooks × %d events) in %v", n, webhooks, events, time.Since(start).Round(time.Millisecond))
	fi, err := os.Stat(b.path)
	if err != nil {
		t.Fatal(err)
	}

	args := append([]string{"deliver", "--once", "--log-format", "json"}, strings.Fields(os.Getenv("FGWH_SOAK_ARGS"))...)
	cmd := exec.Command(b.bin, args...)
	cmd.Env = append(os.Environ(), "FGWH_DB="+b.path, "FGWH_ALLOW_PRIVATE_NETWORKS=1")
	var stderr lineCounter
	cmd.Stderr = &stderr
	start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Sample the process's memory and the WAL's size as the drain goes, to
	// tell a leak (RSS growing with deliveries sent) from a plateau.
	samples := make(chan []soakSample, 1)
	stop := make(chan struct{})
	go func() { samples <- sampleSoak(cmd.Process.Pid, b.path, rc, stop) }()
	err = cmd.Wait()
	close(stop)
	timeline := <-samples
	if err != nil {
		t.Fatalf("deliver: %v\n%s", err, stderr.tail.String())
	}
	elapsed := time.Since(start)
	step := max(1, len(timeline)/10)
	for i := 0; i < len(timeline); i += step {
		sm := timeline[i]
		t.Logf("  at %6v: %6d received, RSS %6.1f MiB (anonymous %6.1f, files %6.1f), WAL %6.1f MiB", sm.at.Round(100*time.Millisecond), sm.received,
			float64(sm.rssKiB)/1024, float64(sm.anonKiB)/1024, float64(sm.fileKiB)/1024, float64(sm.walBytes)/(1<<20))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if c := b.counts(t); c[store.StatusSucceeded] != n {
		t.Fatalf("queue counts %v, want %d succeeded", c, n)
	}
	got, total := rc.snapshot()
	if total != n || len(got) != n {
		t.Fatalf("receiver got %d requests for %d distinct deliveries, want %d each", total, len(got), n)
	}
	t.Logf("drained %d deliveries in %v: %.0f deliveries/s; deliver peak RSS %.1f MiB, CPU %v user + %v sys; %d log lines; database %.1f MiB before the drain",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(ru.Maxrss)/1024,
		time.Duration(ru.Utime.Nano()).Round(time.Millisecond), time.Duration(ru.Stime.Nano()).Round(time.Millisecond),
		stderr.lines, float64(fi.Size())/(1<<20))
}

func soakInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// lineCounter counts lines written to it and keeps the last few KiB, so a
// drain's log does not hold memory in the test.
type lineCounter struct {
	lines int
	tail  bytes.Buffer
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte("\n"))
	w.tail.Write(p)
	if w.tail.Len() > 8<<10 {
		rest := w.tail.Bytes()[w.tail.Len()-4<<10:]
		w.tail.Reset()
		w.tail.Write(rest)
	}
	return len(p), nil
}

// soakSample is one look at the deliver process during the drain.
type soakSample struct {
	at       time.Duration
	received int
	rssKiB   int64
	anonKiB  int64 // RssAnon: heap, SQLite's page cache
	fileKiB  int64 // RssFile + RssShmem: mapped files, the WAL index
	walBytes int64
}

// sampleSoak samples pid's VmRSS and the WAL's size every 250 ms until stop.
func sampleSoak(pid int, db string, rc *keyReceiver, stop <-chan struct{}) []soakSample {
	var out []soakSample
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
		sm := soakSample{at: time.Since(start), received: rc.received()}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				name, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				switch name {
				case "VmRSS":
					sm.rssKiB = kib
				case "RssAnon":
					sm.anonKiB = kib
				case "RssFile", "RssShmem":
					sm.fileKiB += kib
				}
			}
		}
		if fi, err := os.Stat(db + "-wal"); err == nil {
			sm.walBytes = fi.Size()
		}
		out = append(out, sm)
	}
}
