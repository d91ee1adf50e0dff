// Package logevery is the gateway's one rule for a log line that comes in bursts (every
// instance refusing, the gateway out of descriptors): it is written at most once per Interval,
// and each line says how many it stands for.
package logevery

import (
	"sync/atomic"
	"time"
)

// Interval is the shortest time between two writes of one Line.
const Interval = 10 * time.Second

// Line is one log line that may come in bursts, shared by everything that writes it (every
// goroutine of the process). The zero value is ready.
type Line struct {
	// last is when the line was last written (Unix nanoseconds); 0: never.
	last atomic.Int64
	// unlogged counts the times it was not due since then.
	unlogged atomic.Uint64
}

// Due is asked each time the line could be written, at now. true: write it (the first time,
// and then at most once per Interval); unlogged is how many times it was not due since it was
// last written. false: it was written less than Interval ago (or another goroutine writes it
// now); the time is counted in the next line's unlogged.
func (l *Line) Due(now time.Time) (due bool, unlogged uint64) {
	n := now.UnixNano()
	last := l.last.Load()
	if last != 0 && n-last < int64(Interval) || !l.last.CompareAndSwap(last, n) {
		l.unlogged.Add(1)
		return false, 0
	}
	return true, l.unlogged.Swap(0)
}
