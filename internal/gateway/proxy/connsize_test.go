package proxy

import (
	"testing"
	"unsafe"
)

// TestClientConnFitsItsSizeClass: an idle client connection is one allocation of the runtime's
// 256-byte size class (10,000 idle connections are part of the benchmark matrix); a field that
// does not fit in existing padding pushes it to the next class (288 bytes).
func TestClientConnFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(clientConn{}); size > 256 {
		t.Fatalf("clientConn is %d bytes, more than its 256-byte size class: put new fields in padding, or keep them elsewhere", size)
	}
}
