package deliver

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry tunables.
const (
	// DefaultScheduleText is the default --retry-schedule (SPEC.md).
	DefaultScheduleText = "5s,5m,30m,2h,5h"
	// DefaultJitter spreads each delay by ±20% so retries of many deliveries
	// that failed together do not arrive together.
	DefaultJitter = 0.2
	// DefaultMaxDelay caps every delay, including one asked for with
	// Retry-After: a receiver cannot park a delivery for longer than a day.
	DefaultMaxDelay = 24 * time.Hour
)

// DefaultSchedule returns the delays before each automatic retry:
// 5s, 5m, 30m, 2h, 5h. Six attempts in all.
func DefaultSchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour}
}

// DefaultPolicy returns the default schedule with DefaultJitter and
// DefaultMaxDelay, drawing jitter from math/rand/v2.
func DefaultPolicy() Policy {
	return Policy{Schedule: DefaultSchedule(), Jitter: DefaultJitter, MaxDelay: DefaultMaxDelay}
}

// ParseSchedule parses a comma-separated list of delays such as
// "5s,5m,30m,2h,5h" (spaces around items are allowed). Every item must be a
// positive Go duration with a unit. "none" means no automatic retries and
// returns an empty, non-nil schedule. An empty string, an empty item, a zero
// or negative delay, or a missing unit is an error naming the item.
func ParseSchedule(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New(`retry schedule is empty (use "none" for no automatic retries)`)
	}
	if strings.TrimSpace(s) == "none" {
		return []time.Duration{}, nil
	}
	items := strings.Split(s, ",")
	out := make([]time.Duration, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("retry schedule item %d is empty", i+1)
		}
		d, err := time.ParseDuration(item)
		if err != nil {
			return nil, fmt.Errorf("retry schedule item %d %q is not a duration (examples: 30s, 5m, 2h)", i+1, item)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule item %d %q must be positive", i+1, item)
		}
		out = append(out, d)
	}
	return out, nil
}

// FormatSchedule formats a schedule so that ParseSchedule reads it back.
func FormatSchedule(schedule []time.Duration) string {
	if len(schedule) == 0 {
		return "none"
	}
	parts := make([]string, len(schedule))
	for i, d := range schedule {
		parts[i] = formatDuration(d)
	}
	return strings.Join(parts, ",")
}

// formatDuration writes whole hours, minutes and seconds the way people
// write them ("5m", not "5m0s").
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// Policy decides when a failed delivery is tried again.
type Policy struct {
	// Schedule holds the delay before each automatic retry; a delivery gets
	// at most len(Schedule)+1 automatic attempts.
	Schedule []time.Duration
	// Jitter is the relative spread of each delay, in [0, 1): 0.2 means
	// ±20%.
	Jitter float64
	// RandFunc returns a number in [0, 1); nil means math/rand/v2.Float64.
	// 0 gives the shortest delay, 0.5 the scheduled one.
	RandFunc func() float64
	// MaxDelay caps every delay, Retry-After included; 0 means
	// DefaultMaxDelay.
	MaxDelay time.Duration
}

// Next returns the delay before the next attempt, given attempts made so far
// (1 after the first) and the receiver's Retry-After (0 if none). ok is false
// when the schedule is exhausted. Retry-After is a minimum for the delay;
// the result never exceeds MaxDelay.
func (p Policy) Next(attempts int, retryAfter time.Duration) (delay time.Duration, ok bool) {
	if attempts < 1 {
		attempts = 1
	}
	if attempts > len(p.Schedule) {
		return 0, false
	}
	maxDelay := p.MaxDelay
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	delay = p.Schedule[attempts-1]
	if p.Jitter > 0 {
		r := rand.Float64()
		if p.RandFunc != nil {
			r = min(max(p.RandFunc(), 0), 1)
		}
		// Compute in float64 and cap before converting, so a huge schedule
		// item cannot overflow.
		f := float64(delay) * (1 + p.Jitter*(2*r-1))
		delay = maxDelay
		if f < float64(maxDelay) {
			delay = time.Duration(f)
		}
	}
	delay = max(delay, retryAfter)
	return max(min(delay, maxDelay), 0), true
}

// ParseRetryAfter returns the delay asked for by a Retry-After header value,
// in either the delay-seconds form ("120") or the HTTP-date form
// ("Sat, 01 Oct 2022 06:56:29 GMT", relative to now). It returns 0 for an
// empty, invalid or past value. Callers cap the result (Policy.MaxDelay).
func ParseRetryAfter(header string, now time.Time) time.Duration {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0
	}
	if isDigits(header) {
		secs, err := strconv.ParseInt(header, 10, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(header)
	if err != nil {
		return 0
	}
	return max(t.Sub(now), 0)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
