package httpframe

import "strings"

// HopByHop: the headers of RFC 9110 section 7.6.1 that ReverseProxy removes in both directions.
func HopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// HeaderHasToken reports whether a comma-separated header names token (case-insensitively).
func HeaderHasToken(values []string, token string) bool {
	for _, v := range values {
		for {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
			if v == "" {
				break
			}
		}
	}
	return false
}
