package deliver

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    []time.Duration
		wantErr string
	}{
		{in: "5s,5m,30m,2h,5h", want: DefaultSchedule()},
		{in: DefaultScheduleText, want: DefaultSchedule()},
		{in: " 5s, 5m ,30m,\t2h , 5h ", want: DefaultSchedule()},
		{in: "1ms", want: []time.Duration{time.Millisecond}},
		{in: "1h30m,90s,1.5s", want: []time.Duration{90 * time.Minute, 90 * time.Second, 1500 * time.Millisecond}},
		{in: "none", want: []time.Duration{}},
		{in: " none ", want: []time.Duration{}},
		{in: "", wantErr: `retry schedule is empty (use "none" for no automatic retries)`},
		{in: "  ", wantErr: `retry schedule is empty (use "none" for no automatic retries)`},
		{in: "5s,,5m", wantErr: "retry schedule item 2 is empty"},
		{in: "5s,", wantErr: "retry schedule item 2 is empty"},
		{in: ",5s", wantErr: "retry schedule item 1 is empty"},
		{in: "5s,5", wantErr: `retry schedule item 2 "5" is not a duration (examples: 30s, 5m, 2h)`},
		{in: "5s,5m,1d", wantErr: `retry schedule item 3 "1d" is not a duration (examples: 30s, 5m, 2h)`},
		{in: "-5s", wantErr: `retry schedule item 1 "-5s" must be positive`},
		{in: "5s,0s", wantErr: `retry schedule item 2 "0s" must be positive`},
		{in: "0", wantErr: `retry schedule item 1 "0" must be positive`},
		{in: "none,5s", wantErr: `retry schedule item 1 "none" is not a duration (examples: 30s, 5m, 2h)`},
		{in: "99999999999h", wantErr: `retry schedule item 1 "99999999999h" is not a duration (examples: 30s, 5m, 2h)`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSchedule(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || got != nil {
					t.Fatalf("ParseSchedule(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) || got == nil {
				t.Fatalf("ParseSchedule(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestFormatSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []time.Duration
		want string
	}{
		{DefaultSchedule(), DefaultScheduleText},
		{nil, "none"},
		{[]time.Duration{90 * time.Second, 1500 * time.Millisecond, 25 * time.Hour}, "90s,1.5s,25h"},
	} {
		if got := FormatSchedule(tc.in); got != tc.want {
			t.Errorf("FormatSchedule(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPolicy_Next(t *testing.T) {
	t.Parallel()
	fixed := func(r float64) func() float64 { return func() float64 { return r } }
	def := Policy{Schedule: DefaultSchedule(), Jitter: 0.2, RandFunc: fixed(0.5)}
	for _, tc := range []struct {
		name       string
		p          Policy
		attempts   int
		retryAfter time.Duration
		want       time.Duration
		wantOK     bool
	}{
		{"First", def, 1, 0, 5 * time.Second, true},
		{"Second", def, 2, 0, 5 * time.Minute, true},
		{"Fifth", def, 5, 0, 5 * time.Hour, true},
		{"Exhausted", def, 6, 0, 0, false},
		{"WayPast", def, 100, 0, 0, false},
		{"ZeroAttemptsIsFirst", def, 0, 0, 5 * time.Second, true},
		{"JitterLow", Policy{Schedule: DefaultSchedule(), Jitter: 0.2, RandFunc: fixed(0)}, 2, 0, 4 * time.Minute, true},
		{"JitterHigh", Policy{Schedule: DefaultSchedule(), Jitter: 0.2, RandFunc: fixed(1)}, 2, 0, 6 * time.Minute, true},
		{"JitterQuarter", Policy{Schedule: DefaultSchedule(), Jitter: 0.2, RandFunc: fixed(0.25)}, 1, 0, 4500 * time.Millisecond, true},
		{"RandClamped", Policy{Schedule: DefaultSchedule(), Jitter: 0.2, RandFunc: fixed(7)}, 1, 0, 6 * time.Second, true},
		{"NoJitter", Policy{Schedule: DefaultSchedule(), RandFunc: fixed(0)}, 3, 0, 30 * time.Minute, true},
		{"RetryAfterLonger", def, 1, 2 * time.Minute, 2 * time.Minute, true},
		{"RetryAfterShorter", def, 2, time.Minute, 5 * time.Minute, true},
		{"RetryAfterCapped", def, 1, 48 * time.Hour, DefaultMaxDelay, true},
		{"RetryAfterCustomCap", Policy{Schedule: DefaultSchedule(), MaxDelay: time.Hour}, 1, 2 * time.Hour, time.Hour, true},
		{"ScheduleCapped", Policy{Schedule: []time.Duration{30 * time.Hour}, Jitter: 0.2, RandFunc: fixed(1)}, 1, 0, DefaultMaxDelay, true},
		{"HugeItem", Policy{Schedule: []time.Duration{math.MaxInt64}, Jitter: 0.2, RandFunc: fixed(1)}, 1, 0, DefaultMaxDelay, true},
		{"HugeRetryAfter", def, 1, math.MaxInt64, DefaultMaxDelay, true},
		{"RetryAfterWhenExhausted", def, 6, time.Minute, 0, false},
		{"EmptySchedule", Policy{Schedule: []time.Duration{}}, 1, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.p.Next(tc.attempts, tc.retryAfter)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("Next(%d, %v) = %v, %v; want %v, %v", tc.attempts, tc.retryAfter, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestPolicy_Next_DefaultRand checks that the built-in rand stays within the
// jitter bounds.
func TestPolicy_Next_DefaultRand(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	for range 1000 {
		got, ok := p.Next(1, 0)
		if !ok || got < 4*time.Second || got > 6*time.Second {
			t.Fatalf("Next(1, 0) = %v, %v; want within 4s..6s", got, ok)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2022, 10, 1, 6, 54, 29, 78_000_000, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 120 * time.Second},
		{" 7 ", 7 * time.Second},
		{"007", 7 * time.Second},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", math.MaxInt64},
		{"9223372037", math.MaxInt64},
		{"9223372036", 9223372036 * time.Second},
		{"Sat, 01 Oct 2022 06:56:30 GMT", 120*time.Second + 922*time.Millisecond},
		{"Saturday, 01-Oct-22 06:56:30 GMT", 120*time.Second + 922*time.Millisecond},
		{"Sat Oct  1 06:56:30 2022", 120*time.Second + 922*time.Millisecond},
		{"Sat, 01 Oct 2022 06:50:00 GMT", 0},
		{"Sat, 01 Oct 2022 06:54:29 GMT", 0},
		{"Sat, 32 Oct 2022 06:56:30 GMT", 0},
	} {
		if got := ParseRetryAfter(tc.header, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
	if got := ParseRetryAfter(now.Add(time.Hour).Format(http.TimeFormat), now); got != time.Hour-78*time.Millisecond {
		t.Errorf("ParseRetryAfter(now+1h) = %v", got)
	}
}

// FuzzParseSchedule checks that an accepted schedule is all positive and
// survives a FormatSchedule round trip, and that errors are one line.
func FuzzParseSchedule(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSchedule(s)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseSchedule(%q) returned %v with error %v", s, got, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseSchedule(%q): error is not one line: %q", s, err)
			}
			return
		}
		for _, d := range got {
			if d <= 0 {
				t.Fatalf("ParseSchedule(%q) = %v: not all positive", s, got)
			}
		}
		again, err := ParseSchedule(FormatSchedule(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %v -> %q -> %v, %v", s, got, FormatSchedule(got), again, err)
		}
	})
}
