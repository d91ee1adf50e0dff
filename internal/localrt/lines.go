package localrt

import (
	"bytes"
	"io"
	"sync"
)

// maxLineLen cuts very long lines so that one chatty process cannot hold much memory.
const maxLineLen = 1024

// lineRing keeps the last lines written to it (a process's stdout and stderr together), to
// explain why an instance is not healthy. Optionally it copies every complete line to echo with
// a prefix (the dev command shows the processes' output in its own log).
type lineRing struct {
	mu      sync.Mutex
	lines   []string // ring storage, len == capacity once full
	next    int      // where the next line goes
	partial []byte   // an unterminated line
	echo    io.Writer
	prefix  string
}

func newLineRing(capacity int, echo io.Writer, prefix string) *lineRing {
	return &lineRing{lines: make([]string, 0, capacity), echo: echo, prefix: prefix}
}

func (r *lineRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.partial = append(r.partial, p[:min(len(p), maxLineLen-len(r.partial))]...)
			break
		}
		line := append(r.partial, p[:min(i, max(0, maxLineLen-len(r.partial)))]...)
		r.add(string(bytes.TrimRight(line, "\r")))
		r.partial = r.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (r *lineRing) add(line string) {
	if cap(r.lines) == 0 {
		return
	}
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, line)
	} else {
		r.lines[r.next] = line
	}
	r.next = (r.next + 1) % cap(r.lines)
	if r.echo != nil {
		// The echo is a convenience copy (a terminal, a test log): a failed write there must not
		// stop the ring from keeping the lines, which the runtime reports.
		_, _ = io.WriteString(r.echo, r.prefix+line+"\n")
	}
}

// Mark adds a line of the runner's own (exit status, restarts) between the process's lines.
func (r *lineRing) Mark(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.partial) > 0 {
		r.add(string(r.partial))
		r.partial = r.partial[:0]
	}
	r.add("[vamp] " + line)
}

// Lines returns the kept lines, oldest first, including an unterminated last line.
func (r *lineRing) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines)+1)
	if len(r.lines) == cap(r.lines) {
		out = append(out, r.lines[r.next:]...)
		out = append(out, r.lines[:r.next]...)
	} else {
		out = append(out, r.lines...)
	}
	if len(r.partial) > 0 {
		out = append(out, string(r.partial))
	}
	return out
}
