//go:build !linux

package store

import "context"

// walEvents is nil where inotify does not exist: the watcher polls.
func walEvents(ctx context.Context, dir, name string) <-chan struct{} { return nil }
