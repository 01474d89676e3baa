//go:build race

package interop

// raceEnabled builds the bridge under test with the race detector too when
// the tests run with -race, so CI catches data races that only real peers'
// timing provokes.
const raceEnabled = true
