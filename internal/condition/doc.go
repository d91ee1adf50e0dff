// Package condition implements the route condition language of design.md ("Condition language",
// Vamp-compatible) plus a few documented extensions (path, method, ip, query).
//
// Parse compiles a condition once into a small tree of predicate nodes; Match then walks the tree
// for each request. Matching user-agent, host, header and cookie predicates allocates nothing: the
// gateway evaluates conditions on every request, so the hot path avoids regexp, reflection,
// r.Cookies() and case-folded copies of header values.
//
// The same parser serves the gateway and the Terraform provider, so a condition that the gateway
// would reject already fails at `terraform plan`, with the column and what was expected.
package condition
