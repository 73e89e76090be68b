package store

// EventType is one entry of the event catalogue (SPEC.md, "Event types").
type EventType struct {
	// Name is the type, e.g. "recording.imported".
	Name string
	// RequiredKey must be present in every payload of this type.
	RequiredKey string
	// Description says when the event happens.
	Description string
	// Subscribable is false for ping, which every webhook receives on request.
	Subscribable bool
}

// PingEventType is emitted by "webhook ping" for one webhook alone.
const PingEventType = "ping"

// EventTypes is the catalogue, in the order "event types" lists it.
var EventTypes = []EventType{
	{"recording.imported", "recordingId", "a recording finished importing", true},
	{"recording.created", "recordingId", "a recording was created", true},
	{"device.created", "deviceId", "a device was created", true},
	{"device.updated", "deviceId", "a device was updated", true},
	{"event.created", "eventId", "an event was created", true},
	{"event.updated", "eventId", "an event was updated", true},
	{"session.created", "sessionId", "a session was created", true},
	{PingEventType, "webhookId", "a test notification sent by \"webhook ping\" to one webhook", false},
}

// LookupEventType returns the catalogue entry named name.
func LookupEventType(name string) (EventType, bool) {
	for _, t := range EventTypes {
		if t.Name == name {
			return t, true
		}
	}
	return EventType{}, false
}
