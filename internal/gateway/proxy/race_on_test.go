//go:build race

package proxy

// raceDetector: the tests run under the race detector (make test-race), which makes every round
// of a looped test 5 to 10 times slower; the loops that prove a count (1,000 rounds) run it in
// the plain pass of make test, and under -race run fewer rounds for their interleavings.
const raceDetector = true
