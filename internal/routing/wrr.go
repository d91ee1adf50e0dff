package routing

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
