package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// EtcdConfig is store mode: the gateways come from etcd (one key per gateway), every replica
// applies the same sequence of changes and acknowledges each one under its replica key.
// Empty Endpoints: no store (the admin API and the state file alone, as in local dev).
type EtcdConfig struct {
	// Endpoints are etcd's client URLs, e.g. https://10.0.0.5:2379.
	Endpoints []string
	// Prefix is the prefix of every key (default gatewaystore.DefaultPrefix, "/vamp").
	Prefix string
	// ReplicaID names this replica's acknowledgement key (default: the host name).
	ReplicaID string
	// CA, Cert and Key are PEM files for TLS to etcd: CA alone checks the server; Cert and Key
	// add a client certificate.
	CA, Cert, Key string
	// LeaseTTL is the lease of the replica key and of the election session: the key disappears,
	// and another replica takes over the roll-outs, this long after the replica is gone (default
	// 10s; whole seconds, at least 1s).
	LeaseTTL time.Duration
	// RequestTimeout bounds each read and write to etcd (default 5s).
	RequestTimeout time.Duration
}

func (c *EtcdConfig) registerFlags(fs *flag.FlagSet) {
	fs.Func("etcd-endpoints", "comma-separated etcd client URLs; set: store mode (gateways come from etcd, the admin API writes to it)", func(v string) error {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				c.Endpoints = append(c.Endpoints, e)
			}
		}
		return nil
	})
	fs.StringVar(&c.Prefix, "etcd-prefix", gatewaystore.DefaultPrefix, "prefix of the gateway configuration's keys in etcd")
	fs.StringVar(&c.ReplicaID, "replica-id", "", "this replica's name in etcd acknowledgements (default: the host name)")
	fs.StringVar(&c.CA, "etcd-ca", "", "PEM CA bundle that etcd's server certificate must chain to")
	fs.StringVar(&c.Cert, "etcd-cert", "", "PEM client certificate for etcd (with --etcd-key)")
	fs.StringVar(&c.Key, "etcd-key", "", "PEM private key of --etcd-cert")
	fs.DurationVar(&c.LeaseTTL, "etcd-lease-ttl", 10*time.Second, "lease of this replica's acknowledgement key and election session: how soon another replica takes over roll-outs after this one dies (whole seconds)")
}

// storeChange is one gateway key (or, rollout set, one roll-out state key) as a watch or a
// read saw it; raw nil is a deletion.
type storeChange struct {
	name      string
	raw       []byte
	modRev    int64
	createRev int64
	rollout   bool
}

// storedRollout is a roll-out state key as last seen.
type storedRollout struct {
	rec    gatewaystore.RolloutRecord
	modRev int64
}

// leadership is this replica's hold on the election: the leader key and its CreateRevision, which
// every roll-out write compares, so that a deposed leader cannot write.
type leadership struct {
	key string
	rev int64
}

// storeOutcome is what this replica did with the changes up to a store revision.
type storeOutcome struct {
	rev int64
	err error
}

// etcdStore follows the gateways' keys and acknowledges every revision this replica processes.
type etcdStore struct {
	cfg    EtcdConfig
	layout gatewaystore.Layout
	client *clientv3.Client

	mu        sync.Mutex
	storeRev  map[string]int64         // gateway -> ModRevision of its key as last seen (applied or not)
	created   map[string]int64         // gateway -> CreateRevision of its key as last seen
	rollouts  map[string]storedRollout // gateway -> its roll-out state key as last seen
	applied   map[string][]byte        // gateway -> the raw document this replica serves
	processed int64                    // the store revision handled last
	reads     int64                    // whole-prefix reads applied so far
	serving   int64                    // the store revision of the configuration served
	outcomes  []storeOutcome           // the last few, oldest first
	changed   chan struct{}            // closed and replaced whenever processed moves
	ack       gatewaystore.Ack         // the acknowledgement to write
	ackDirty  chan struct{}            // a new ack is waiting (capacity 1)
	// retry are the changes of the last rejected batch, as last seen: they go in again with
	// the next batch (a later change of the same key replaces its entry), so that the replica
	// serves the store as of one revision, never a later one without what it rejected.
	retry []storeChange

	// leader is set while this replica holds the election (it alone ticks roll-outs and SLA
	// scaling); writes counts the roll-out decisions it wrote to the store.
	leader atomic.Pointer[leadership]
	writes atomic.Int64
}

// isLeader reports whether this replica holds the election now.
func (st *etcdStore) isLeader() bool { return st.leader.Load() != nil }

// openStore connects to etcd when store mode is configured (the client dials lazily: an etcd
// that is down at start is not an error; the replica serves its state file until it is back).
func (s *Server) openStore() error {
	c := s.cfg.Etcd
	if len(c.Endpoints) == 0 {
		if c.Cert != "" || c.Key != "" || c.CA != "" {
			return errors.New("--etcd-ca/--etcd-cert/--etcd-key are set without --etcd-endpoints; add the endpoints or drop them")
		}
		return nil
	}
	layout, err := gatewaystore.NewLayout(c.Prefix)
	if err != nil {
		return fmt.Errorf("--etcd-prefix: %w", err)
	}
	if c.ReplicaID == "" {
		if c.ReplicaID, err = os.Hostname(); err != nil {
			return fmt.Errorf("--replica-id is empty and the host name is unknown (%v); set --replica-id", err)
		}
	}
	if strings.ContainsAny(c.ReplicaID, "/ ") {
		return fmt.Errorf("--replica-id %q: must not contain \"/\" or spaces", c.ReplicaID)
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL%time.Second != 0 {
		return fmt.Errorf("--etcd-lease-ttl %v: etcd leases are whole seconds; use 1s or more, e.g. 10s", c.LeaseTTL)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	var tlsCfg *tls.Config
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("--etcd-cert and --etcd-key go together; set both or neither")
	}
	if c.CA != "" || c.Cert != "" {
		info := transport.TLSInfo{TrustedCAFile: c.CA, CertFile: c.Cert, KeyFile: c.Key}
		if tlsCfg, err = info.ClientConfig(); err != nil {
			return fmt.Errorf("etcd TLS (--etcd-ca/--etcd-cert/--etcd-key): %w", err)
		}
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.RequestTimeout,
		TLS:         tlsCfg,
		Logger:      zap.NewNop(), // this replica logs through slog; the client's retries are not news
	})
	if err != nil {
		return fmt.Errorf("--etcd-endpoints %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	s.cfg.Etcd = c
	s.store = &etcdStore{
		cfg:      c,
		layout:   layout,
		client:   client,
		storeRev: map[string]int64{},
		created:  map[string]int64{},
		rollouts: map[string]storedRollout{},
		applied:  map[string][]byte{},
		changed:  make(chan struct{}),
		ackDirty: make(chan struct{}, 1),
		ack:      gatewaystore.Ack{Replica: c.ReplicaID},
	}
	s.metrics.MustRegister(newStoreCollector(s.store))
	s.log.Info("store mode: gateways come from etcd", "endpoints", strings.Join(c.Endpoints, ","), "prefix", layout.Prefix, "replica", c.ReplicaID)
	return nil
}

// followStore runs the store's loops until stop is called (no store: nothing).
func (s *Server) followStore() (stop func()) {
	st := s.store
	if st == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.syncStore(ctx) }()
	go func() { defer wg.Done(); st.acknowledge(ctx, s) }()
	go func() { defer wg.Done(); st.campaign(ctx, s) }()
	return func() {
		cancel()
		wg.Wait()
		if err := st.client.Close(); err != nil {
			s.log.Debug("etcd: closing the client", "error", err)
		}
	}
}

// syncStore reads every gateway at a revision, applies them, then watches from the next
// revision; a compacted or cancelled watch starts over with a new read.
func (s *Server) syncStore(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := s.loadStore(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			err = s.watchStore(ctx, rev+1)
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("etcd: following the store failed; serving the last configuration and trying again", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// loadStore reads the whole prefix at one revision and makes the gateways exactly that.
func (s *Server) loadStore(ctx context.Context) (int64, error) {
	st := s.store
	rctx, cancel := context.WithTimeout(ctx, st.cfg.RequestTimeout)
	resp, err := st.client.Get(rctx, st.layout.All(), clientv3.WithPrefix())
	cancel()
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", st.layout.All(), err)
	}
	var changes []storeChange
	inStore, rolloutInStore := map[string]bool{}, map[string]bool{}
	for _, kv := range resp.Kvs {
		c, ok := st.change(kv, true)
		if !ok {
			continue
		}
		if c.rollout {
			rolloutInStore[c.name] = true
		} else {
			inStore[c.name] = true
		}
		changes = append(changes, c)
	}
	s.mu.Lock()
	for name := range s.gateways {
		if !inStore[name] {
			changes = append(changes, storeChange{name: name})
		}
	}
	s.mu.Unlock()
	st.mu.Lock()
	for name := range st.rollouts {
		if !rolloutInStore[name] {
			changes = append(changes, storeChange{name: name, rollout: true})
		}
	}
	st.mu.Unlock()
	s.processStore(resp.Header.Revision, changes, true)
	return resp.Header.Revision, nil
}

// errWatchRestart says the watch cannot go on from where it is (compaction, cancellation).
type errWatchRestart struct{ cause error }

func (e *errWatchRestart) Error() string { return "the watch must start over: " + e.cause.Error() }
func (e *errWatchRestart) Unwrap() error { return e.cause }

func (s *Server) watchStore(ctx context.Context, from int64) error {
	st := s.store
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The whole prefix: a roll-out decision changes a gateway key and its roll-out key in one
	// transaction, which must arrive as one batch. Acknowledgements and election keys are
	// skipped below.
	wch := st.client.Watch(wctx, st.layout.All(), clientv3.WithPrefix(), clientv3.WithRev(from))
	for wresp := range wch {
		if wresp.CompactRevision != 0 || errors.Is(wresp.Err(), rpctypes.ErrCompacted) {
			s.log.Warn("etcd: the revisions this replica missed were compacted; reading the whole prefix again", "compacted", wresp.CompactRevision)
			return &errWatchRestart{cause: rpctypes.ErrCompacted}
		}
		if err := wresp.Err(); err != nil {
			return &errWatchRestart{cause: err}
		}
		if wresp.Canceled {
			return &errWatchRestart{cause: errors.New("watch cancelled by the server")}
		}
		// Changes of one response (one transaction, or several in a row) go in as one batch;
		// the last event of a key wins.
		var changes []storeChange
		index := map[string]int{}
		for _, ev := range wresp.Events {
			c, ok := st.change(ev.Kv, ev.Type == mvccpb.PUT)
			if !ok {
				continue
			}
			k := c.name
			if c.rollout {
				k = "rollout\x00" + c.name
			}
			if i, seen := index[k]; seen {
				changes[i] = c
			} else {
				index[k] = len(changes)
				changes = append(changes, c)
			}
		}
		if len(changes) == 0 {
			continue // acknowledgements, the election: nothing to apply or acknowledge
		}
		s.processStore(wresp.Header.Revision, changes, false)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &errWatchRestart{cause: errors.New("watch channel closed")}
}

// change is the storeChange of a gateway or roll-out key (put: the key holds kv.Value); ok is
// false for every other key of the prefix.
func (st *etcdStore) change(kv *mvccpb.KeyValue, put bool) (storeChange, bool) {
	key := string(kv.Key)
	c := storeChange{modRev: kv.ModRevision, createRev: kv.CreateRevision}
	var ok bool
	if c.name, ok = st.layout.GatewayName(key); !ok {
		if c.name, ok = st.layout.RolloutName(key); !ok {
			return storeChange{}, false
		}
		c.rollout = true
	}
	if put {
		c.raw = kv.Value
	}
	return c, true
}

// processStore applies one batch and records and acknowledges the outcome.
func (s *Server) processStore(rev int64, changes []storeChange, full bool) {
	st := s.store
	st.mu.Lock()
	for _, c := range changes {
		switch {
		case c.rollout && c.raw == nil:
			delete(st.rollouts, c.name)
		case c.rollout:
			var rec gatewaystore.RolloutRecord
			if err := json.Unmarshal(c.raw, &rec); err != nil {
				s.log.Warn("etcd: a roll-out state key holds no roll-out state; ignored", "gateway", c.name, "error", err)
				delete(st.rollouts, c.name)
				continue
			}
			st.rollouts[c.name] = storedRollout{rec: rec, modRev: c.modRev}
		case c.raw == nil:
			delete(st.storeRev, c.name)
			delete(st.created, c.name)
		default:
			st.storeRev[c.name] = c.modRev
			st.created[c.name] = c.createRev
		}
	}
	applied := make(map[string][]byte, len(st.applied))
	for k, v := range st.applied {
		applied[k] = v
	}
	// The roll-out states that belong to the gateway keys as they are now.
	records := map[string]gatewaystore.RolloutRecord{}
	for name, ro := range st.rollouts {
		if created, ok := st.created[name]; ok && created == ro.rec.GatewayCreateRevision {
			records[name] = ro.rec
		}
	}
	// What an earlier batch was refused goes in again with this one: a gateway that could
	// not be applied then (its port was held) is served once it can be. If it still cannot,
	// this revision's changes go in alone, and the acknowledgement names what is still refused.
	batch, pending := changes, []storeChange(nil)
	if !full { // a whole read holds every key as it is: nothing to retry besides
		batch = withRetry(st.retry, changes)
		pending = batch[:len(batch)-len(changes)]
	}
	st.mu.Unlock()

	failed, err := s.applyStoreBatch(batch, applied, records)
	var stillFailed string
	var still error
	if err != nil && len(pending) > 0 {
		if f, e := s.applyStoreBatch(changes, applied, records); e == nil {
			stillFailed, still = failed, err
			failed, err, batch = "", nil, changes
		} else {
			failed, err = f, e // this revision's own fault
		}
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	if full {
		st.reads++
	}
	ack := gatewaystore.Ack{Replica: st.cfg.ReplicaID, Revision: rev, Reads: st.reads}
	switch {
	case err != nil:
		st.retry = withRetry(pending, changes)
	case still != nil:
		st.retry = pending
		ack.Error, ack.Gateway = still.Error(), stillFailed
		s.log.Warn("etcd: a gateway of an earlier revision is still refused; this revision's changes are applied", "revision", rev, "gateway", stillFailed, "error", still)
	default:
		st.retry = nil
	}
	if err == nil {
		for _, c := range batch {
			switch {
			case c.rollout:
			case c.raw == nil:
				delete(st.applied, c.name)
			default:
				st.applied[c.name] = c.raw
			}
		}
		st.serving = rev
		s.log.Info("etcd: configuration applied", "revision", rev, "changes", len(changes), "full_read", full)
	} else {
		ack.Error, ack.Gateway = err.Error(), failed
		s.log.Warn("etcd: configuration rejected; the last good one keeps serving", "revision", rev, "gateway", failed, "error", err, "serving", st.serving)
	}
	ack.Serving = st.serving
	st.processed = rev
	st.outcomes = append(st.outcomes, storeOutcome{rev: rev, err: err})
	if len(st.outcomes) > 64 {
		st.outcomes = st.outcomes[len(st.outcomes)-64:]
	}
	close(st.changed)
	st.changed = make(chan struct{})
	st.ack = ack
	select {
	case st.ackDirty <- struct{}{}:
	default:
	}
}

// withRetry is changes preceded by the entries of retry (a rejected batch) whose key changes
// does not change again.
func withRetry(retry, changes []storeChange) []storeChange {
	if len(retry) == 0 {
		return changes
	}
	type key struct {
		name    string
		rollout bool
	}
	now := make(map[key]bool, len(changes))
	for _, c := range changes {
		now[key{c.name, c.rollout}] = true
	}
	out := make([]storeChange, 0, len(retry)+len(changes))
	for _, c := range retry {
		if !now[key{c.name, c.rollout}] {
			out = append(out, c)
		}
	}
	return append(out, changes...)
}

// applyStoreBatch applies changes whole: every document through the admin API's PUT path
// (parseGateway, then apply), in dependency order, deletions after; if any is refused, every
// gateway already changed goes back to what it was and the refused gateway's name and error are
// returned. Documents equal to what is served are skipped, so a re-read changes nothing. A
// gateway whose roll-out state (records) changed is applied again with it, so every replica's
// roll-out is where the leader's is.
func (s *Server) applyStoreBatch(changes []storeChange, applied map[string][]byte, records map[string]gatewaystore.RolloutRecord) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type undo struct {
		name string
		old  *entry // nil: the gateway did not exist
		doc  gatewayapi.Gateway
		ro   *rollout.State
	}
	var undos []undo
	remember := func(name string) {
		u := undo{name: name}
		if e := s.gateways[name]; e != nil {
			u.old, u.doc = e, e.doc
			if e.run != nil {
				ro := e.run.persisted
				u.ro = &ro
			}
		}
		undos = append(undos, u)
	}
	rollback := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			u := undos[i]
			if u.old == nil {
				if s.gateways[u.name] != nil {
					_ = s.remove(u.name)
				}
				continue
			}
			if _, err := s.apply(u.name, u.doc, applyRestore, u.ro); err != nil {
				s.log.Error("etcd: could not put a gateway back after a rejected batch", "gateway", u.name, "error", err)
			}
		}
		if len(undos) > 0 {
			if err := s.save("", nil, nil); err != nil {
				s.log.Warn("state file not rewritten after a rejected batch", "error", err)
			}
		}
	}

	var puts []gatewayapi.Gateway
	var deletes []string
	saved := map[string]*rollout.State{}
	touched := map[string]bool{}
	for _, c := range changes {
		if !c.rollout {
			touched[c.name] = true
		}
	}
	for _, c := range changes {
		if c.rollout {
			// A roll-out state alone: the gateway's document as served goes in again with it.
			raw, ok := applied[c.name]
			if touched[c.name] || !ok {
				continue
			}
			touched[c.name] = true
			c = storeChange{name: c.name, raw: raw}
		}
		if c.raw == nil {
			if s.gateways[c.name] != nil {
				deletes = append(deletes, c.name)
			}
			continue
		}
		doc, err := parseGateway(c.name, c.raw)
		if err != nil {
			return c.name, err
		}
		ro := s.storedRolloutOf(c.name, doc, records)
		same := bytes.Equal(applied[c.name], c.raw) || s.serves(c.name, doc)
		if same && (ro == nil || s.runIsAt(c.name, *ro)) {
			continue
		}
		doc.Name = c.name
		puts = append(puts, doc)
		saved[c.name] = ro
	}
	ordered, err := dependencyOrder(puts)
	if err != nil {
		return "", refuse(http.StatusBadRequest, "", "%v", err)
	}
	// Every document is compiled before any is applied, against a scratch pool, so that an
	// invalid one never reaches the data plane; apply compiles again for real, and what only
	// applying can find (a port taken, the state file) is rolled back below.
	inBatch := make(map[string]gatewayapi.Gateway, len(puts))
	for _, doc := range puts {
		inBatch[doc.Name] = doc
	}
	scratch := routing.NewPool()
	for _, doc := range ordered {
		_, err := spec.Compile(doc.Name, doc, spec.Env{
			Pool: scratch,
			Gateway: func(n string) *atomic.Pointer[routing.Table] {
				if _, ok := inBatch[n]; ok {
					return new(atomic.Pointer[routing.Table])
				}
				return s.tablePointer(n)
			},
			Source: func(runtime string) discovery.Source { return s.sources[runtime] },
			Protocol: func(n string) string {
				if d, ok := inBatch[n]; ok {
					return gatewayapi.ProtocolOf(d)
				}
				if e := s.gateways[n]; e != nil {
					return gatewayapi.ProtocolOf(e.doc)
				}
				return ""
			},
			Strict: true,
		})
		if err != nil {
			return doc.Name, refuseCompile(err)
		}
	}
	for _, doc := range ordered {
		remember(doc.Name)
		if _, err := s.apply(doc.Name, doc, applyPut, saved[doc.Name]); err != nil {
			rollback()
			return doc.Name, err
		}
	}
	sort.Strings(deletes)
	for _, name := range deletes {
		remember(name)
		if err := s.remove(name); err != nil {
			rollback()
			return name, err
		}
	}
	return "", nil
}

// storedRolloutOf is the stored roll-out state that belongs to doc's roll-out (same policy and
// metric source), nil when there is none. s.mu must be held.
func (s *Server) storedRolloutOf(name string, doc gatewayapi.Gateway, records map[string]gatewaystore.RolloutRecord) *rollout.State {
	rec, ok := records[name]
	if !ok || doc.Rollout == nil {
		return nil
	}
	policy, err := policyOf(name, doc)
	if err != nil {
		return nil
	}
	key, err := rolloutKey(policy, doc.Rollout.Metrics)
	if err != nil || key != rec.Key {
		return nil
	}
	st := rec.State
	return &st
}

// runIsAt reports whether the gateway's roll-out is exactly at st. s.mu must be held.
func (s *Server) runIsAt(name string, st rollout.State) bool {
	e := s.gateways[name]
	return e != nil && e.run != nil && sameRolloutState(e.run.engine.State(), st)
}

// sameRolloutState compares two roll-out states as stored (JSON), times included.
func sameRolloutState(a, b rollout.State) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// serves reports whether the gateway name already serves doc (version aside): a document the
// state file restored is not applied again, so its roll-out goes on. s.mu must be held.
func (s *Server) serves(name string, doc gatewayapi.Gateway) bool {
	e := s.gateways[name]
	if e == nil {
		return false
	}
	have := e.doc
	have.Name, have.Version, have.RolloutStatus = "", 0, nil
	doc.Name, doc.Version, doc.RolloutStatus = "", 0, nil
	a, err1 := json.Marshal(have)
	b, err2 := json.Marshal(doc)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// acknowledge keeps this replica's key up to date: the latest Ack, on a lease kept alive; a
// lease lost while etcd was away is granted again and the Ack written again.
func (st *etcdStore) acknowledge(ctx context.Context, s *Server) {
	var lease clientv3.LeaseID
	var alive <-chan *clientv3.LeaseKeepAliveResponse
	var kaCancel context.CancelFunc = func() {}
	defer func() { kaCancel() }()
	backoff := 100 * time.Millisecond
	dirty := false
	for {
		if dirty || lease == 0 {
			err := func() error {
				if lease == 0 {
					rctx, cancel := context.WithTimeout(ctx, st.cfg.RequestTimeout)
					g, err := st.client.Grant(rctx, int64(st.cfg.LeaseTTL/time.Second))
					cancel()
					if err != nil {
						return fmt.Errorf("granting the replica key's lease: %w", err)
					}
					lease = g.ID
					kaCancel()
					var kctx context.Context
					kctx, kaCancel = context.WithCancel(ctx)
					if alive, err = st.client.KeepAlive(kctx, lease); err != nil {
						lease = 0
						return fmt.Errorf("keeping the replica key's lease alive: %w", err)
					}
				}
				st.mu.Lock()
				ack := st.ack
				st.mu.Unlock()
				if ack.Revision == 0 {
					return nil // nothing processed yet
				}
				data, err := json.Marshal(ack)
				if err != nil {
					return err
				}
				rctx, cancel := context.WithTimeout(ctx, st.cfg.RequestTimeout)
				_, err = st.client.Put(rctx, st.layout.Replica(st.cfg.ReplicaID), string(data), clientv3.WithLease(lease))
				cancel()
				if errors.Is(err, rpctypes.ErrLeaseNotFound) {
					lease = 0
				}
				return err
			}()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.log.Warn("etcd: acknowledgement not written; trying again", "error", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-st.ackDirty:
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 2*time.Second)
				dirty = true
				continue
			}
			backoff = 100 * time.Millisecond
			dirty = false
		}
		select {
		case <-ctx.Done():
			return
		case <-st.ackDirty:
			dirty = true
		case _, ok := <-alive:
			if !ok { // the lease expired or cannot be renewed: a new one, the ack again
				lease, alive, dirty = 0, nil, true
			}
		}
	}
}

// waitProcessed waits until the replica has processed rev and returns the outcome of the batch
// that held it.
func (st *etcdStore) waitProcessed(ctx context.Context, rev int64) error {
	for {
		st.mu.Lock()
		if st.processed >= rev {
			defer st.mu.Unlock()
			for _, o := range st.outcomes {
				if o.rev >= rev {
					return o.err
				}
			}
			return nil // older than the outcomes kept: a full read came after it
		}
		ch := st.changed
		st.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("this replica has not applied store revision %d within %s (is etcd reachable?)", rev, st.cfg.RequestTimeout*2)
		case <-ch:
		}
	}
}

// storePut is the admin API's PUT in store mode: the document goes into etcd with a
// compare-and-set on the key's revision as this replica last saw it; the answer waits until this
// replica has applied it. A document this replica rejects is taken out of the store again (if
// nobody changed it since) and refused with the same error as without a store.
func (s *Server) storePut(w http.ResponseWriter, r *http.Request, name string, raw []byte) {
	st := s.store
	key := st.layout.Gateway(name)
	st.mu.Lock()
	seen := st.storeRev[name]
	old, hadOld := st.applied[name]
	st.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 2*st.cfg.RequestTimeout)
	defer cancel()
	resp, err := st.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", seen)).
		Then(clientv3.OpPut(key, string(raw))).
		Commit()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", fmt.Sprintf("etcd did not take the change: %v; the gateways are unchanged, try again when etcd is reachable", err))
		return
	}
	if !resp.Succeeded {
		writeError(w, http.StatusConflict, "", fmt.Sprintf("gateway %q changed in etcd since this replica saw it (revision %d); GET it and apply your change again", name, seen))
		return
	}
	rev := resp.Header.Revision
	if err := st.waitProcessed(ctx, rev); err != nil {
		if ctx.Err() == nil {
			s.revert(key, rev, old, hadOld, false)
		}
		writeApplyError(w, err)
		return
	}
	s.mu.Lock()
	e := s.gateways[name]
	var stored gatewayapi.Gateway
	if e != nil {
		stored = withStatus(e)
	}
	s.mu.Unlock()
	if e == nil {
		writeError(w, http.StatusConflict, "", fmt.Sprintf("gateway %q was deleted in etcd right after this change", name))
		return
	}
	writeJSON(w, http.StatusOK, stored)
}

// storeDelete is the admin API's DELETE in store mode.
func (s *Server) storeDelete(w http.ResponseWriter, r *http.Request, name string) {
	st := s.store
	key := st.layout.Gateway(name)
	st.mu.Lock()
	seen, known := st.storeRev[name]
	old, hadOld := st.applied[name]
	st.mu.Unlock()
	if !known {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("gateway %q does not exist", name))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*st.cfg.RequestTimeout)
	defer cancel()
	resp, err := st.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", seen)).
		Then(clientv3.OpDelete(key), clientv3.OpDelete(st.layout.Rollout(name))).
		Commit()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", fmt.Sprintf("etcd did not take the deletion: %v; try again when etcd is reachable", err))
		return
	}
	if !resp.Succeeded {
		writeError(w, http.StatusConflict, "", fmt.Sprintf("gateway %q changed in etcd since this replica saw it (revision %d); GET it and delete again", name, seen))
		return
	}
	rev := resp.Header.Revision
	if err := st.waitProcessed(ctx, rev); err != nil {
		if ctx.Err() == nil {
			s.revert(key, rev, old, hadOld, true)
		}
		writeApplyError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revert puts back what key held before revision rev (old; hadOld false: nothing), unless
// someone changed the key since.
func (s *Server) revert(key string, rev int64, old []byte, hadOld, deleted bool) {
	st := s.store
	cmp := clientv3.Compare(clientv3.ModRevision(key), "=", rev)
	if deleted { // the key must still be absent
		cmp = clientv3.Compare(clientv3.ModRevision(key), "=", 0)
	}
	op := clientv3.OpDelete(key)
	if hadOld {
		op = clientv3.OpPut(key, string(old))
	}
	ctx, cancel := context.WithTimeout(context.Background(), st.cfg.RequestTimeout)
	defer cancel()
	if _, err := st.client.Txn(ctx).If(cmp).Then(op).Commit(); err != nil {
		s.log.Warn("etcd: a rejected change could not be taken out of the store; the replicas keep rejecting it", "key", key, "error", err)
	}
}
