package gateway

import "context"

// LeaderToken is the replica's hold on the roll-out election (tests): its leader key and that
// key's CreateRevision; ok is false when it does not lead.
func LeaderToken(s *Server) (key string, rev int64, ok bool) {
	if s.store == nil {
		return "", 0, false
	}
	l := s.store.leader.Load()
	if l == nil {
		return "", 0, false
	}
	return l.key, l.rev, true
}

// WriteRolloutAs writes, through s's etcd client, a roll-out decision for gateway with weights
// as the holder of the leader key given (tests: a deposed leader's write). It returns
// writeRollout's error.
func WriteRolloutAs(ctx context.Context, s *Server, key string, rev int64, gateway string, weights map[string]int) error {
	s.mu.Lock()
	e := s.gateways[gateway]
	run, doc := e.run, e.doc
	s.mu.Unlock()
	st := run.engine.State()
	st.Weights = weights
	for i, r := range doc.Routes {
		if w, ok := weights[r.Name]; ok {
			doc.Routes[i].Weight = w
		}
	}
	_, err := s.store.writeRollout(ctx, leadership{key: key, rev: rev}, gateway, run.key, &doc, true, st)
	return err
}
