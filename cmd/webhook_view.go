package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/fgwh/fgwh/store"
)

// webhookView is a webhook's JSON form (SPEC.md, "Webhook JSON"). Fields
// are only ever added, never renamed or removed.
type webhookView struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	URL        string   `json:"url"`
	EventTypes []string `json:"eventTypes"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason is null while the webhook is enabled.
	DisabledReason  *string  `json:"disabledReason"`
	SignatureScheme string   `json:"signatureScheme"`
	CreatedAt       jsonTime `json:"createdAt"`
	UpdatedAt       jsonTime `json:"updatedAt"`
	// Token is set by create and rotate-token only: it is shown once.
	Token string `json:"token,omitempty"`
	// PreviousTokenExpiresAt is set by rotate-token --grace.
	PreviousTokenExpiresAt jsonTime `json:"previousTokenExpiresAt,omitzero"`
	// Stats is set by show.
	Stats *webhookStatsView `json:"stats,omitempty"`
}

// webhookStatsView is "webhook show"'s delivery statistics.
type webhookStatsView struct {
	Deliveries     statusCountsView `json:"deliveries"`
	SuccessRate    float64          `json:"successRate"`
	RecentAttempts int              `json:"recentAttempts"`
	P50LatencyMs   int64            `json:"p50LatencyMs"`
	P95LatencyMs   int64            `json:"p95LatencyMs"`
	LastError      *string          `json:"lastError"`
	LastErrorAt    jsonTime         `json:"lastErrorAt"`
}

// statusCountsView counts deliveries per status, in SPEC.md's order.
type statusCountsView struct {
	Pending    int `json:"pending"`
	Retrying   int `json:"retrying"`
	Delivering int `json:"delivering"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
}

func newWebhookView(w store.Webhook) webhookView {
	types := w.EventTypes
	if types == nil {
		types = []string{}
	}
	return webhookView{
		ID:              w.ID,
		Name:            w.Name,
		URL:             w.URL,
		EventTypes:      types,
		Enabled:         w.Enabled,
		DisabledReason:  nonEmpty(w.DisabledReason),
		SignatureScheme: w.SignatureScheme,
		CreatedAt:       jsonTime(w.CreatedAt),
		UpdatedAt:       jsonTime(w.UpdatedAt),
	}
}

func newWebhookStatsView(st store.WebhookStats) *webhookStatsView {
	return &webhookStatsView{
		Deliveries: statusCountsView{
			Pending:    st.ByStatus[store.StatusPending],
			Retrying:   st.ByStatus[store.StatusRetrying],
			Delivering: st.ByStatus[store.StatusDelivering],
			Succeeded:  st.ByStatus[store.StatusSucceeded],
			Failed:     st.ByStatus[store.StatusFailed],
		},
		SuccessRate:    st.SuccessRate,
		RecentAttempts: st.RecentAttempts,
		P50LatencyMs:   st.P50.Milliseconds(),
		P95LatencyMs:   st.P95.Milliseconds(),
		LastError:      nonEmpty(st.LastError),
		LastErrorAt:    jsonTime(st.LastErrorAt),
	}
}

// webhookFields is a webhook as "key: value" lines for table output.
func webhookFields(w store.Webhook) [][2]string {
	status := "enabled"
	if !w.Enabled {
		status = "disabled"
		if w.DisabledReason != "" {
			status += " (" + w.DisabledReason + ")"
		}
	}
	return [][2]string{
		{"id", w.ID},
		{"name", w.Name},
		{"url", w.URL},
		{"events", strings.Join(w.EventTypes, ", ")},
		{"status", status},
		{"signature", w.SignatureScheme},
		{"created", formatTime(w.CreatedAt)},
		{"updated", formatTime(w.UpdatedAt)},
	}
}

// statsFields is a webhook's statistics as "key: value" lines.
func statsFields(st *webhookStatsView) [][2]string {
	d := st.Deliveries
	rate := "-"
	if d.Succeeded+d.Failed > 0 {
		rate = fmt.Sprintf("%.1f%%", st.SuccessRate*100)
	}
	latency := "-"
	if st.RecentAttempts > 0 {
		latency = fmt.Sprintf("p50 %s, p95 %s (last %d attempts)",
			time.Duration(st.P50LatencyMs)*time.Millisecond, time.Duration(st.P95LatencyMs)*time.Millisecond, st.RecentAttempts)
	}
	lastErr := "-"
	if st.LastError != nil {
		lastErr = formatTime(time.Time(st.LastErrorAt)) + " " + *st.LastError
	}
	return [][2]string{
		{"deliveries", fmt.Sprintf("%d pending, %d retrying, %d delivering, %d succeeded, %d failed",
			d.Pending, d.Retrying, d.Delivering, d.Succeeded, d.Failed)},
		{"success rate", rate},
		{"latency", latency},
		{"last error", lastErr},
	}
}
