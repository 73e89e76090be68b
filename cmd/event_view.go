package cmd

import (
	"encoding/json"

	"github.com/fgwh/fgwh/store"
)

// eventView is an event's JSON form (SPEC.md, "Event JSON"). Fields are
// only ever added, never renamed or removed.
type eventView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp jsonTime        `json:"timestamp"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt jsonTime        `json:"createdAt"`
	// IdempotencyKey is the key the event was emitted with, if any.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// emittedView is "event emit"'s JSON: the event and how many deliveries
// this emit queued.
type emittedView struct {
	eventView
	Deliveries int `json:"deliveries"`
	// Duplicate is true when the idempotency key was seen before: the event
	// is the first one emitted with it and nothing was queued.
	Duplicate bool `json:"duplicate,omitempty"`
}

// emitFileView is "event emit --file"'s JSON.
type emitFileView struct {
	// Events is how many new events were stored.
	Events int `json:"events"`
	// Deliveries is how many deliveries they queued.
	Deliveries int `json:"deliveries"`
	// Duplicates is how many lines repeated an idempotency key already seen.
	Duplicates int `json:"duplicates"`
}

// eventShowView is "event show"'s JSON: the event and its deliveries.
type eventShowView struct {
	eventView
	Deliveries []deliveryView `json:"deliveries"`
}

// eventTypeView is one catalogue entry of "event types".
type eventTypeView struct {
	Type         string `json:"type"`
	RequiredKey  string `json:"requiredKey"`
	Description  string `json:"description"`
	Subscribable bool   `json:"subscribable"`
}

func newEventView(e store.Event) eventView {
	return eventView{
		ID:             e.ID,
		Type:           e.Type,
		Timestamp:      jsonTime(e.Timestamp),
		Payload:        e.Payload,
		CreatedAt:      jsonTime(e.CreatedAt),
		IdempotencyKey: e.IdempotencyKey,
	}
}
