package cmd

import (
	"strconv"
	"strings"
	"time"

	"github.com/fgwh/fgwh/store"
)

// deliveryView is a delivery in JSON (SPEC.md, "Deliveries"). Fields are
// only ever added. Absent times, status codes and errors are null.
type deliveryView struct {
	ID             string   `json:"id"`
	WebhookID      string   `json:"webhookId"`
	EventID        string   `json:"eventId"`
	EventType      string   `json:"eventType"`
	Status         string   `json:"status"`
	Attempts       int      `json:"attempts"`
	CreatedAt      jsonTime `json:"createdAt"`
	NextAttemptAt  jsonTime `json:"nextAttemptAt"`
	LastAttemptAt  jsonTime `json:"lastAttemptAt"`
	LastStatusCode *int     `json:"lastStatusCode"`
	LastError      *string  `json:"lastError"`
	CompletedAt    jsonTime `json:"completedAt"`
}

// deliveryDetailView is "deliveries show": the delivery and every attempt,
// oldest first.
type deliveryDetailView struct {
	deliveryView
	AttemptLog []attemptView `json:"attemptLog"`
}

// attemptView is one attempt in JSON. ErrorCode is fgwh's stable
// classification of a failure (timeout, http_status, …), beyond SPEC.md's keys.
type attemptView struct {
	Number       int      `json:"number"`
	AttemptedAt  jsonTime `json:"attemptedAt"`
	DurationMS   int64    `json:"durationMs"`
	StatusCode   *int     `json:"statusCode"`
	ErrorCode    *string  `json:"errorCode"`
	Error        *string  `json:"error"`
	ResponseBody string   `json:"responseBody"`
	Manual       bool     `json:"manual"`
}

func newDeliveryView(d store.Delivery) deliveryView {
	return deliveryView{
		ID:             d.ID,
		WebhookID:      d.WebhookID,
		EventID:        d.EventID,
		EventType:      d.EventType,
		Status:         d.Status,
		Attempts:       d.Attempts,
		CreatedAt:      jsonTime(d.CreatedAt),
		NextAttemptAt:  jsonTime(d.NextAttemptAt),
		LastAttemptAt:  jsonTime(d.LastAttemptAt),
		LastStatusCode: nonZero(d.LastStatusCode),
		LastError:      nonEmpty(d.LastError),
		CompletedAt:    jsonTime(d.CompletedAt),
	}
}

func newDeliveryDetailView(d store.Delivery) deliveryDetailView {
	v := deliveryDetailView{deliveryView: newDeliveryView(d), AttemptLog: make([]attemptView, 0, len(d.AttemptLog))}
	for _, a := range d.AttemptLog {
		v.AttemptLog = append(v.AttemptLog, attemptView{
			Number:       a.Number,
			AttemptedAt:  jsonTime(a.AttemptedAt),
			DurationMS:   a.Duration.Milliseconds(),
			StatusCode:   nonZero(a.StatusCode),
			ErrorCode:    nonEmpty(a.ErrorCode),
			Error:        nonEmpty(a.Error),
			ResponseBody: a.ResponseBody,
			Manual:       a.Manual,
		})
	}
	return v
}

// nonZero is nil for 0, so that JSON says null for "no status code".
func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// nonEmpty is nil for "", so that JSON says null for "no error".
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// shorten puts s on one line and cuts it to at most n runes, ending in "…"
// when cut; "" becomes "-" so that table cells are never blank.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// formatStatusCode renders a status code for tables; 0 (no answer) is "-".
func formatStatusCode(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

// formatDuration renders an attempt's duration in milliseconds for tables.
func formatDuration(d time.Duration) string {
	return strconv.Itoa(int(d.Milliseconds())) + "ms"
}
