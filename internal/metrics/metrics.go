// Package metrics holds erasure's Prometheus metrics (issue 14). No label
// holds an identifier; labels are procedures, codes, actions, states and
// outcomes, and an account only where the operator asks for it (rows and
// ended jobs, with New's accounts set). A nil *Metrics records nothing, so
// code paths need no checks.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's metrics, in their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	rpcs        *prometheus.CounterVec
	rpcDuration *prometheus.HistogramVec
	rows        *prometheus.CounterVec
	batches     *prometheus.HistogramVec
	jobsEnded   *prometheus.CounterVec
	storeErrors prometheus.Counter
	takeovers   prometheus.Counter
	uploadBytes prometheus.Counter
	// accounts adds the account label to rows and ended jobs.
	accounts bool
}

// QueueStats are the store's view of the work, read at each scrape.
type QueueStats struct {
	Queued, Running int64
	// OldestQueued is the age of the oldest queued job; zero when none.
	OldestQueued time.Duration
	// UploadsInProgress are uploads not complete yet.
	UploadsInProgress int64
}

// New returns the metrics, registered with the Go runtime's and the
// process's. stats, when not nil, is read at each scrape for the queue and
// upload gauges.
// With accounts set, rows and ended jobs are also labelled by account (an
// account id is no person's identifier, but it is a customer's name, and
// one series per account grows with the customers).
func New(stats func(context.Context) (QueueStats, error), accounts bool) *Metrics {
	jobLabels := []string{"action", "outcome"}
	endLabels := []string{"action", "state"}
	if accounts {
		jobLabels = append(jobLabels, "account")
		endLabels = append(endLabels, "account")
	}
	m := &Metrics{
		accounts: accounts,
		Registry: prometheus.NewRegistry(),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erasure_rpc_requests_total",
			Help: "RPCs handled, by procedure and status code."}, []string{"procedure", "code"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "erasure_rpc_duration_seconds",
			Help: "RPC latency, by procedure (streams: until they end).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"procedure"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erasure_rows_total",
			Help: "Rows of jobs processed by this instance, by action and outcome."}, jobLabels),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "erasure_batch_duration_seconds",
			Help: "Time of one batch of a job (lookup, outcomes, change, records), by action.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"action"}),
		jobsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erasure_jobs_ended_total",
			Help: "Jobs this instance ran to their end, by action and final state."}, endLabels),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "erasure_store_retries_total",
			Help: "Store calls of jobs that failed and were retried (the store was unavailable)."}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "erasure_lease_takeovers_total",
			Help: "Jobs this instance took over from another (or an earlier run of itself) whose lease ran out."}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "erasure_upload_bytes_total",
			Help: "Bytes of uploads received by this instance."}),
	}
	m.Registry.MustRegister(m.rpcs, m.rpcDuration, m.rows, m.batches, m.jobsEnded, m.storeErrors, m.takeovers, m.uploadBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stats != nil {
		m.Registry.MustRegister(&queueCollector{stats: stats})
	}
	return m
}

// RPC records one call.
func (m *Metrics) RPC(procedure, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.rpcs.WithLabelValues(procedure, code).Inc()
	m.rpcDuration.WithLabelValues(procedure).Observe(d.Seconds())
}

// Batch records one finished batch of a job of account and its rows'
// outcomes.
func (m *Metrics) Batch(account, action string, d time.Duration, outcomes map[string]int) {
	if m == nil {
		return
	}
	m.batches.WithLabelValues(action).Observe(d.Seconds())
	for o, n := range outcomes {
		m.rows.WithLabelValues(m.labels(account, action, o)...).Add(float64(n))
	}
}

// JobEnded records a job of account this instance ended.
func (m *Metrics) JobEnded(account, action, state string) {
	if m != nil {
		m.jobsEnded.WithLabelValues(m.labels(account, action, state)...).Inc()
	}
}

// labels are values, with the account last when it is a label.
func (m *Metrics) labels(account string, values ...string) []string {
	if m.accounts {
		return append(values, account)
	}
	return values
}

// StoreRetry records a store call of a job retried after an error.
func (m *Metrics) StoreRetry() {
	if m != nil {
		m.storeErrors.Inc()
	}
}

// Takeover records a job taken over after its lease ran out.
func (m *Metrics) Takeover() {
	if m != nil {
		m.takeovers.Inc()
	}
}

// UploadBytes records bytes of uploads received.
func (m *Metrics) UploadBytes(n int) {
	if m != nil {
		m.uploadBytes.Add(float64(n))
	}
}

// queueCollector reads the queue and upload gauges from the store at each
// scrape, so every instance reports the same shared queue.
type queueCollector struct {
	stats func(context.Context) (QueueStats, error)
}

var (
	queuedDesc  = prometheus.NewDesc("erasure_jobs_queued", "Jobs waiting for a worker (all instances).", nil, nil)
	runningDesc = prometheus.NewDesc("erasure_jobs_running", "Jobs running (all instances).", nil, nil)
	oldestDesc  = prometheus.NewDesc("erasure_queue_oldest_age_seconds", "Age of the oldest queued job; 0 when none is queued.", nil, nil)
	uploadsDesc = prometheus.NewDesc("erasure_uploads_in_progress", "Uploads not complete yet (all instances).", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queuedDesc
	ch <- runningDesc
	ch <- oldestDesc
	ch <- uploadsDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queuedDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(s.Running))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, s.OldestQueued.Seconds())
	ch <- prometheus.MustNewConstMetric(uploadsDesc, prometheus.GaugeValue, float64(s.UploadsInProgress))
}
