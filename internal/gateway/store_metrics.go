package gateway

import "github.com/prometheus/client_golang/prometheus"

// storeCollector exports store mode's state on /metrics: which store revision this replica has
// processed and which it serves (they differ while it rejects a change), and its re-reads.
type storeCollector struct {
	st                                  *etcdStore
	processed, serving, rejected, reads *prometheus.Desc
	leader, writes                      *prometheus.Desc
}

func newStoreCollector(st *etcdStore) *storeCollector {
	return &storeCollector{
		st:        st,
		processed: prometheus.NewDesc("vamp_gateway_store_processed_revision", "The etcd revision of gateway changes this replica has processed (applied or rejected).", nil, nil),
		serving:   prometheus.NewDesc("vamp_gateway_store_serving_revision", "The etcd revision of the configuration this replica serves.", nil, nil),
		rejected:  prometheus.NewDesc("vamp_gateway_store_rejected", "1 while this replica refuses a change: the last one (it serves an older revision), or an earlier one it retries with every change.", nil, nil),
		reads:     prometheus.NewDesc("vamp_gateway_store_reads_total", "Reads of the whole prefix: 1 at start, one more per compacted or cancelled watch.", nil, nil),
		leader:    prometheus.NewDesc("vamp_gateway_store_leader", "1 while this replica holds the election: it alone ticks roll-outs and SLA scaling.", nil, nil),
		writes:    prometheus.NewDesc("vamp_gateway_store_rollout_writes_total", "Roll-out decisions this replica wrote to the store as the leader.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.processed, c.serving, c.rejected, c.reads, c.leader, c.writes} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.st.mu.Lock()
	processed, serving, reads, rejected := c.st.processed, c.st.serving, c.st.reads, 0.0
	if c.st.ack.Error != "" {
		rejected = 1
	}
	c.st.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.processed, prometheus.GaugeValue, float64(processed))
	ch <- prometheus.MustNewConstMetric(c.serving, prometheus.GaugeValue, float64(serving))
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.GaugeValue, rejected)
	ch <- prometheus.MustNewConstMetric(c.reads, prometheus.CounterValue, float64(reads))
	leader := 0.0
	if c.st.isLeader() {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(c.leader, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(c.writes, prometheus.CounterValue, float64(c.st.writes.Load()))
}
