package condition

import "strings"

// family is a browser family that a user-agent value can name. Detection follows the tokens that
// browsers really send, because naive substrings lie: every Chromium browser says "Chrome/" and
// "Safari/", Edge says "Chrome/", and Chrome and Firefox on iOS say "Safari/" but not "Chrome/"
// or "Firefox/".
type family uint8

const (
	familyNone family = iota // the value is not a family name: plain substring test
	familyFirefox
	familyChrome
	familySafari
	familyEdge
	familyIE
	familyOpera
)

// familyByName maps the (lower-cased) values that name a family.
var familyByName = map[string]family{
	"firefox":           familyFirefox,
	"chrome":            familyChrome,
	"safari":            familySafari,
	"edge":              familyEdge,
	"ie":                familyIE,
	"msie":              familyIE,
	"internet explorer": familyIE,
	"opera":             familyOpera,
}

// familyNeedles lists, per family, substrings of which a User-Agent of that family has at least
// one: the product tokens that detectFamily needs to see for it ("Edg" starts Edg/, Edge/, EdgA/
// and EdgiOS/; "Opera" covers Opera/ and the slashless "Opera 8.50"; "MSIE " is IE's test
// besides Trident/). A value with none of them is not of the family, whatever else it says, so
// isFamily refuses it with one substring search per needle instead of walking every product
// token: the common case of a family condition, the requests it does not take.
var familyNeedles = [...][]string{
	familyFirefox: {"Firefox/", "FxiOS/"},
	familyChrome:  {"Chrome/", "Chromium/", "CriOS/"},
	familySafari:  {"Safari/"},
	familyEdge:    {"Edg"},
	familyIE:      {"Trident/", "MSIE "},
	familyOpera:   {"OPR/", "OPT/", "OPiOS/", "Opera"},
}

// isFamily reports whether detectFamily(ua) == f, for f other than familyNone.
func isFamily(ua string, f family) bool {
	for _, needle := range familyNeedles[f] {
		if strings.Contains(ua, needle) {
			return detectFamily(ua) == f
		}
	}
	return false
}

// detectFamily classifies a User-Agent header. Browsers name themselves in product tokens
// ("Name/version"), and the more specific browsers (Edge, Opera) add their token to the ones of
// the browsers they are built on, so the tokens are collected first and ranked after.
func detectFamily(ua string) family {
	seen := productTokens(ua)
	switch {
	case seen&tokEdge != 0:
		return familyEdge
	case seen&tokOpera != 0 || strings.Contains(ua, "Opera"): // "Opera 8.50" without a slash
		return familyOpera
	case seen&tokTrident != 0 || strings.Contains(ua, "MSIE "):
		return familyIE
	case seen&tokFirefox != 0:
		return familyFirefox
	case seen&tokChrome != 0:
		return familyChrome
	case seen&tokSafari != 0 && !strings.Contains(ua, "Android"):
		// The old Android stock browser says "Safari/" too; it is not Safari.
		return familySafari
	}
	return familyNone
}

// Product tokens that decide the family.
const (
	tokEdge    = 1 << iota // Edg/ (Chromium Edge), Edge/ (legacy), EdgA/ (Android), EdgiOS/
	tokOpera               // OPR/, OPT/ (Opera Touch), OPiOS/, Opera/
	tokTrident             // Trident/ (IE 8 to 11)
	tokFirefox             // Firefox/, FxiOS/ (Firefox on iOS)
	tokChrome              // Chrome/, Chromium/, CriOS/ (Chrome on iOS)
	tokSafari              // Safari/
)

// productTokens returns the set of known product names that occur before a "/" in ua. It jumps
// from slash to slash, so it costs one pass and allocates nothing.
func productTokens(ua string) uint8 {
	var seen uint8
	for off := 0; ; {
		i := strings.IndexByte(ua[off:], '/')
		if i < 0 {
			return seen
		}
		slash := off + i
		start := slash
		for start > off && !isUASeparator(ua[start-1]) {
			start--
		}
		switch ua[start:slash] {
		case "Edg", "Edge", "EdgA", "EdgiOS":
			seen |= tokEdge
		case "OPR", "OPT", "OPiOS", "Opera":
			seen |= tokOpera
		case "Trident":
			seen |= tokTrident
		case "Firefox", "FxiOS":
			seen |= tokFirefox
		case "Chrome", "Chromium", "CriOS":
			seen |= tokChrome
		case "Safari":
			seen |= tokSafari
		}
		off = slash + 1
	}
}

func isUASeparator(c byte) bool {
	return c == ' ' || c == ';' || c == '(' || c == ')' || c == ','
}
