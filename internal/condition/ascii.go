package condition

// ASCII helpers that compare without allocating. Header values are bytes; HTTP case-insensitivity
// is ASCII case-insensitivity, so folding only A-Z is both correct and allocation-free.

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// toLowerASCII folds A-Z in s; it runs at compile time only.
func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

// hasPrefixFoldASCII reports whether s starts with lowerPrefix, folding ASCII letters of s.
func hasPrefixFoldASCII(s, lowerPrefix string) bool {
	if len(s) < len(lowerPrefix) {
		return false
	}
	for i := 0; i < len(lowerPrefix); i++ {
		if lowerASCII(s[i]) != lowerPrefix[i] {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether lowerNeedle (already ASCII-lowercased) occurs in s when
// ASCII letters of s are folded to lower case.
func containsFoldASCII(s, lowerNeedle string) bool {
	n := len(lowerNeedle)
	if n == 0 {
		return true
	}
	first := lowerNeedle[0]
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) == first && hasPrefixFoldASCII(s[i+1:], lowerNeedle[1:]) {
			return true
		}
	}
	return false
}

// isTokenChar reports whether c may appear in an RFC 9110 token (header names, methods, and the
// cookie names of RFC 6265).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
