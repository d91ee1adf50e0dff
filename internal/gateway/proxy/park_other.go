//go:build !linux

package proxy

import "time"

// Without epoll, idle connections keep their goroutines (see park_linux.go).
const parkAfter = 0

type parker struct{}

var idleParker parker

func (p *parker) park(*clientConn, time.Time) bool { return false }

func (p *parker) unpark(*clientConn) bool { return false }
