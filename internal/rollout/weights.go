package rollout

import "slices"

// sharesOf reads the stable routes' relative shares from the gateway's current weights. Stable
// routes that all stand at 0 share equally.
func sharesOf(stable []string, current map[string]int) []int {
	shares := make([]int, len(stable))
	sum := 0
	for i, s := range stable {
		shares[i] = current[s]
		sum += shares[i]
	}
	if sum == 0 {
		for i := range shares {
			shares[i] = 1
		}
	}
	return shares
}

// distribute gives the canary weight w and splits 100-w over the stable routes by their shares
// (largest remainder; ties go to the route listed first), so the weights sum to exactly 100.
func distribute(canary string, w int, stable []string, shares []int) map[string]int {
	out := make(map[string]int, len(stable)+1)
	out[canary] = w
	rest := 100 - w
	sum := 0
	for _, s := range shares {
		sum += s
	}
	remainders := make([]int, len(stable))
	given := 0
	for i, name := range stable {
		out[name] = rest * shares[i] / sum
		remainders[i] = rest * shares[i] % sum
		given += out[name]
	}
	order := make([]int, len(stable))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return remainders[b] - remainders[a] })
	for _, i := range order[:rest-given] {
		out[stable[i]]++
	}
	return out
}
