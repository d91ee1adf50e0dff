// Package azure opens gateway ports on Azure: a load-balancing rule with the health probe it owns on
// an existing load balancer, and an inbound security rule on an existing network security group.
//
// It knows nothing of Terraform. Every write to a load balancer is a read-splice-write of the whole
// resource (Azure has no per-rule endpoint that is safe to use alongside other writers), so two
// protections keep concurrent writers from losing each other's rules: a per-load-balancer lock
// inside the process, and optimistic concurrency with the load balancer's etag (If-Match), re-reading
// and retrying on 412. Throttling and transient server errors are retried by azcore's retry policy,
// configured in [Options]. Rules and probes the caller does not own are never modified.
package azure
