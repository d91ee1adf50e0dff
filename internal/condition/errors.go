package condition

import "strconv"

// SyntaxError reports why a condition does not parse and where.
type SyntaxError struct {
	// Column is the 1-based position, counted in runes, where the problem was found.
	Column int
	// Msg says what was expected or what is wrong, e.g. `expected a value after "=="`.
	Msg string
	// Hint, when not empty, says how to fix it.
	Hint string
}

// Error renders the error as `<Msg> at column <Column>[; <Hint>]`.
func (e *SyntaxError) Error() string {
	s := e.Msg + " at column " + strconv.Itoa(e.Column)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}
