// Package gatewaystore is the layout of the gateway configuration in etcd: which key holds
// what. The gateway (store mode) and the provider read and write the same keys through it, so
// the layout is written down in one place.
//
// Under a prefix (default "/vamp"):
//
//	<prefix>/gateways/<name>   the gateway's document: exactly the JSON the admin API's PUT takes
//	<prefix>/replicas/<id>     one replica's acknowledgement (Ack as JSON), on a lease (~10 s)
//	<prefix>/rollouts/<name>   a roll-out's state (RolloutRecord as JSON), written by the leader
//	<prefix>/election          etcd concurrency election prefix: the leader ticks roll-outs
//
// A gateway's key revision (ModRevision) is its version in the store: writers compare it in the
// transaction that changes the key (compare-and-set), so that no change is lost between a read
// and a write. A replica acknowledges the store revision (the etcd header revision) it has
// processed: either applied (Error empty) or rejected (Error says why; the replica keeps serving
// the configuration of Serving).
package gatewaystore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// DefaultPrefix is the prefix of every key when none is configured.
const DefaultPrefix = "/vamp"

// Layout names the keys under one prefix.
type Layout struct{ Prefix string }

// NewLayout checks prefix: it must start with "/" and not end with one ("" is DefaultPrefix).
func NewLayout(prefix string) (Layout, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasPrefix(prefix, "/") || (len(prefix) > 1 && strings.HasSuffix(prefix, "/")) {
		return Layout{}, fmt.Errorf("etcd prefix %q must start with \"/\" and not end with one, e.g. %q", prefix, DefaultPrefix)
	}
	if prefix == "/" {
		return Layout{}, errors.New("etcd prefix \"/\" would share the whole keyspace; choose one like \"/vamp\"")
	}
	return Layout{Prefix: prefix}, nil
}

// Gateways is the prefix of every gateway key.
func (l Layout) Gateways() string { return l.Prefix + "/gateways/" }

// Gateway is the key of one gateway's document.
func (l Layout) Gateway(name string) string { return l.Gateways() + name }

// GatewayName is the gateway name of a key under Gateways(); ok is false for any other key.
func (l Layout) GatewayName(key string) (name string, ok bool) {
	name, ok = strings.CutPrefix(key, l.Gateways())
	return name, ok && name != ""
}

// Replicas is the prefix of every replica's acknowledgement.
func (l Layout) Replicas() string { return l.Prefix + "/replicas/" }

// Replica is the key of one replica's acknowledgement.
func (l Layout) Replica(id string) string { return l.Replicas() + id }

// Rollouts is the prefix of every roll-out state.
func (l Layout) Rollouts() string { return l.Prefix + "/rollouts/" }

// Rollout is the key of one gateway's roll-out state (a RolloutRecord).
func (l Layout) Rollout(name string) string { return l.Rollouts() + name }

// RolloutName is the gateway name of a key under Rollouts(); ok is false for any other key.
func (l Layout) RolloutName(key string) (name string, ok bool) {
	name, ok = strings.CutPrefix(key, l.Rollouts())
	return name, ok && name != ""
}

// All is the prefix of every key of the layout (the prefix with a trailing slash).
func (l Layout) All() string { return l.Prefix + "/" }

// Election is the prefix of the etcd concurrency election whose leader ticks roll-outs and SLA
// scaling; each campaigner's key is Election()+"/"+<lease id in hex>, its value the replica id.
func (l Layout) Election() string { return l.Prefix + "/election" }

// Ack is a replica's acknowledgement, the value of its Replica key.
type Ack struct {
	// Replica is the replica's id (--replica-id).
	Replica string `json:"replica"`
	// Revision is the store revision the replica has processed: everything up to it is applied,
	// or it was rejected (Error).
	Revision int64 `json:"revision"`
	// Serving is the store revision of the configuration the replica serves: Revision when it
	// was applied, the last good one when it was rejected.
	Serving int64 `json:"serving"`
	// Error is why the replica rejected Revision (Serving is older); empty when it applied it.
	// With Serving = Revision it applied Revision's changes but still refuses the transaction
	// of an earlier revision it rejected (Gateway names it), which it retries with every change
	// until it applies: its key changed again, or what stood in its way (a port) is gone.
	Error string `json:"error,omitempty"`
	// Gateway names the gateway whose document was rejected, when one was.
	Gateway string `json:"gateway,omitempty"`
	// Reads counts the replica's reads of the whole prefix since it started: 1 at start, one
	// more each time its watch could not resume (compaction, a cancelled watch).
	Reads int64 `json:"reads"`
}

// RolloutRecord is the value of a Rollout key: the roll-out's state as the elected replica last
// decided it, written in the same transaction as the gateway's document with the weights of
// that decision. A new leader resumes from it.
type RolloutRecord struct {
	// GatewayCreateRevision is the CreateRevision of the gateway key the state belongs to: a
	// gateway deleted and created again has another, and its roll-out starts afresh.
	GatewayCreateRevision int64 `json:"gateway_create_revision"`
	// Key is the gateway's roll-out identity (policy fingerprint and metric source): a document
	// whose roll-out has another key starts a new roll-out.
	Key string `json:"key"`
	// Writer is the replica id of the leader that wrote it.
	Writer string `json:"writer"`
	// State is the engine's state (phase, step, weights, times).
	State rollout.State `json:"state"`
}
