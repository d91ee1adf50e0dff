package routing

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// smoothCycle returns one period of nginx's smooth weighted round-robin over weights (all above
// 0, summing to at most 100) divided by their gcd: entry n is the index of the weight chosen n-th.
// Each index appears weight/gcd times, as evenly spread as the weights allow (50/50 gives 0 1,
// 90/10 gives nine 0s around one 1).
func smoothCycle(weights []int) []uint8 {
	if len(weights) == 0 {
		return nil
	}
	g := uint64(0)
	for _, w := range weights {
		g = gcd(g, uint64(w))
	}
	total := 0
	for _, w := range weights {
		total += w / int(g)
	}
	cycle := make([]uint8, total)
	current := make([]int, len(weights))
	for n := range cycle {
		best := 0
		for i, w := range weights {
			current[i] += w / int(g)
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		cycle[n] = uint8(best)
	}
	return cycle
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Positions within a cycle are drawn at random. Every cycle holds each route exactly weight/gcd
// times, so the shares are exact per cycle, but which request of the cycle a route gets does not
// repeat with a fixed period: a client pattern that repeats (alternating browsers, probes every
// k-th request) cannot line up with one route.
//
// The hot path (byWeight) uses shuffles: numShuffles uniform random orders of the cycle
// (Fisher-Yates, drawn at build time from the table's seed), and cycle number c is walked in
// shuffle mix64(seed^c) % numShuffles. The position a route gets in a cycle is thus uniform and
// independent of the cycle number's pattern, and a choice costs one hash and two loads, lock-free
// and without allocation. The degraded path (rechoose, over a subset of the cycle known only at
// request time) uses permute, a keyed permutation computed per call.

// numShuffles is how many random orders of the cycle a table keeps (at most 100 bytes each).
const numShuffles = 64

// shuffles returns numShuffles random orders of cycle, concatenated (entry k*len(cycle)+p is the
// p-th choice of shuffle k), drawn from seed.
func shuffles(cycle []uint8, seed uint64) []uint8 {
	l := len(cycle)
	out := make([]uint8, numShuffles*l)
	state := seed
	for k := range numShuffles {
		s := out[k*l : (k+1)*l]
		copy(s, cycle)
		for i := l - 1; i > 0; i-- {
			state += 0x9E3779B97F4A7C15
			j := int(mix64(state) % uint64(i+1)) // bias below 2^-56 for i < 100
			s[i], s[j] = s[j], s[i]
		}
	}
	return out
}

// shuffleOf is the shuffle that cycle number c is walked in.
func shuffleOf(seed, c uint64) uint64 {
	return mix64(seed^(c+1)*0x9E3779B97F4A7C15) % numShuffles
}

// permute is a 4-round balanced Feistel network over 2h bits (4^h >= l) with cycle walking: a
// bijection on 0..l-1, different for each cycle c, computed in a few multiplications.

func permute(seed, c, p, l uint64) uint64 {
	if l <= 1 {
		return 0
	}
	h := uint((bits.Len64(l-1) + 1) / 2) // half width: 4^h >= l
	mask := uint64(1)<<h - 1
	key := mix64(seed ^ (c+1)*0x9E3779B97F4A7C15)
	x := p
	for {
		left, right := x>>h, x&mask
		for r := uint(0); r < 4; r++ {
			k := key >> (16 * r) & 0xFFFF
			f := ((right+k)*0xD6E8FEB86659FD93 ^ key) * 0x9E3779B97F4A7C15 >> (64 - h)
			left, right = right, left^f
		}
		x = left<<h | right
		if x < l { // cycle walking: values >= l are mapped again until one falls inside
			return x
		}
	}
}

// mix64 is splitmix64's finaliser: a bijective, well-mixing hash of 64 bits.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// newSeed draws a table's seed from crypto/rand; 0 is avoided because it means "draw one".
func newSeed() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:]) // never fails: it crashes the program instead (Go 1.24)
		if s := binary.LittleEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}
