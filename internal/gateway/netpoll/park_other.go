//go:build !linux

package netpoll

import "time"

// Without epoll, idle connections keep their goroutines (see park_linux.go).
const ParkAfter time.Duration = 0

// Parkable is a connection that a Parker holds while it waits (see park_linux.go).
type Parkable interface {
	Parking(id uint64) bool
	Resume()
	Expire()
}

// Parker parks nothing here: Park always returns false.
type Parker struct{}

// NewParker returns a parker that parks nothing.
func NewParker() *Parker { return &Parker{} }

func (p *Parker) Park(Parkable, int, time.Duration) bool { return false }

func (p *Parker) Unpark(uint64) bool { return false }

func (p *Parker) Parked(uint64) bool { return false }

func (p *Parker) Err() error { return nil }

func (p *Parker) Close() error { return nil }
