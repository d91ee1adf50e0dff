package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// subscriberBuffer bounds how far an event-stream client may fall behind.
// A client that falls further behind is disconnected (its stream ends, so
// an SSE client reconnects and resynchronises) rather than silently missing
// events.
const subscriberBuffer = 4096

type sseEvent struct {
	name string
	data []byte
}

type subscriber struct {
	ch    chan sseEvent
	types map[string]bool // empty: all event types
}

// broker fans events out to the /v2/events streams.
type broker struct {
	mu     sync.Mutex
	subs   map[*subscriber]bool
	closed bool
}

func newBroker() *broker { return &broker{subs: map[*subscriber]bool{}} }

func (b *broker) subscribe(types []string) *subscriber {
	s := &subscriber{ch: make(chan sseEvent, subscriberBuffer), types: map[string]bool{}}
	for _, t := range types {
		s.types[t] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.ch)
		return s
	}
	b.subs[s] = true
	return s
}

func (b *broker) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[s] {
		delete(b.subs, s)
		close(s.ch)
	}
}

func (b *broker) publish(name string, payload map[string]any) {
	payload["eventType"] = name
	payload["timestamp"] = time.Now().UTC().Format(versionLayout)
	data, err := json.Marshal(payload)
	if err != nil {
		return // payloads are built from decoded JSON; cannot happen
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if len(s.types) > 0 && !s.types[name] {
			continue
		}
		select {
		case s.ch <- sseEvent{name: name, data: data}:
		default:
			delete(b.subs, s)
			close(s.ch)
		}
	}
}

// count is the number of attached event streams.
func (b *broker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}

func (e *Emulator) publish(name string, payload map[string]any) { e.events.publish(name, payload) }

// serveEvents streams events as Server-Sent Events (events.raml): the client
// must accept text/event-stream, and may filter with event_type=... .
func (e *Emulator) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeMessage(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported by this URL")
		return
	}
	if !strings.Contains(strings.Join(r.Header.Values("Accept"), ","), "text/event-stream") {
		writeMessage(w, http.StatusMethodNotAllowed, "the event stream needs the header Accept: text/event-stream")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeMessage(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	sub := e.events.subscribe(r.URL.Query()["event_type"])
	defer e.events.unsubscribe(sub)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	attached, _ := json.Marshal(map[string]any{
		"remoteAddress": r.RemoteAddr, "eventType": "event_stream_attached",
		"timestamp": time.Now().UTC().Format(versionLayout),
	})
	fmt.Fprintf(w, "event: event_stream_attached\ndata: %s\n\n", attached)
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, open := <-sub.ch:
			if !open {
				return
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
			flusher.Flush()
		}
	}
}
