// Package deliver sends notifications and runs the delivery loop.
//
// The sending side does not touch the database: NewClient builds an HTTP
// client whose dialer refuses private addresses (CheckAddr) unless allowed,
// Client.Send makes one attempt and describes it as an Outcome with a stable
// error code, and Policy says when to try again. The delivery loop (claim,
// send, classify, schedule the retry, complete the attempt) lives here too
// and records each Outcome through package store.
//
// The notification's shape, headers and signature follow SPEC.md ("The
// notification").
package deliver
