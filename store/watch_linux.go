package store

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"unsafe"
)

// walEvents returns a channel that receives a value (coalesced) whenever
// the file name in dir is created or written, by any process; nil if
// inotify is not available. It stops when ctx ends.
func walEvents(ctx context.Context, dir, name string) <-chan struct{} {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MODIFY|syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		syscall.Close(fd)
		return nil
	}
	// A non-blocking descriptor makes os.File wait in the runtime poller,
	// so Close unblocks Read.
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				end := off + syscall.SizeofInotifyEvent + int(ev.Len)
				if end > n {
					break
				}
				got := bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:end], "\x00")
				if string(got) == name {
					select {
					case ch <- struct{}{}:
					default:
					}
				}
				off = end
			}
		}
	}()
	return ch
}
