package condition

// seedConditions: every documented example and every error case; the fuzz corpus and the
// round-trip test start from them.
var seedConditions = []string{
	// design.md examples
	"user-agent == Firefox", "User-Agent != Firefox", "host != localhost", "has cookie vamp",
	"misses header ETag", "cookie vamp has 12345", "header vamp misses 12345",
	"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp",
	// grammar forms
	"user-agent==Firefox", "user.agent is 'Mobile Safari'", `useragent contains "x y"`, "user-agent ! Edge",
	"user-agent not IE", "user-agent misses Opera", "true || false && !true", "not (true | false) & true",
	"host has example", "host == example.com:8080", "host == '[::1]'", `header X-Mode has 'it\'s'`,
	"cookie q has a=b", "HAS COOKIE a", "contains header x",
	// extensions
	"path == /api", "path prefix /api", "path starts-with /api", "path has api", "path != /x",
	"method == GET", "method != post", "ip in 10.0.0.0/8", "ip == 1.2.3.4", "ip not in 2001:db8::/32",
	"query v has 2", "has query debug", "misses query debug", "query 'a b' misses 'c d'",
	// errors
	"", "   ", "user-agent ==", "user-agent == )", "user-agent == ''", "user-agent == Firefox and", "not",
	"(has cookie vamp", "has cookie vamp )", "host == 'abc", "foo == bar", "user_agent == x", "ü == x",
	"< src 10.0.0.0/8 >", "<hdr_sub(user-agent) -i Firefox>", "<", "has cookie", "header 'bad name' has x",
	"has banana vamp", "cookie vamp == 1", "ip in 10.0.0.0/33", "ip == 1.2.3", "has cookie vamp xyz",
	"user-agent Firefox", "method has GET", "path == api", "!= x", "()", "true false",
}
