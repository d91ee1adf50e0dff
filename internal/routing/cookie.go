package routing

import (
	"net/http"
	"strings"
)

// cookieValue returns the value of the first cookie called name in h's Cookie headers. Unlike
// http.Request.Cookie it allocates nothing: the value is a substring of the header.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok || trimSpace(k) != name {
				continue
			}
			v = trimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// trimSpace trims the spaces and tabs that may surround a cookie pair.
func trimSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
