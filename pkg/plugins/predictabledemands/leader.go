package predictabledemands

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"k8s.io/component-base/configz"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Why the gate needs to know whether this process leads.
//
// kube-scheduler builds its profiles, and so this plugin, before leader
// election, and unless delayCacheUntilActive is set it starts its informers
// before it too: in a standby replica the pod informer still feeds the
// scheduling queue, which runs PreEnqueue, and the gate's own informers and
// timers run from New. Only scheduling (popping the queue, binding) waits
// for the lease. So every replica's gate holds pods and would report on
// them; the reports are API writes (the PodScheduled condition and an
// event), which only the leader may make. The gate keeps its reports while
// the process does not lead and writes them once it does (a standby that
// takes over reports on the pods it holds, which may have been held while
// no replica led).
//
// A plugin is not told whether its scheduler leads. kube-scheduler says so
// in-process in two places, both read here: its component configuration,
// published on /configz ("componentconfig") when it starts running, says
// whether leader election is on; the client-go leader elector's gauge
// leader_election_master_status (component-base's legacy registry, served
// on /metrics) is 1 while it holds the lease. kube-scheduler exits when it
// loses the lease.

// leaderMetric is client-go's leader-election gauge in component-base's
// legacy registry: one series per elector, 1 while it holds its lease.
const leaderMetric = "leader_election_master_status"

// leaderRecheck is how long a leadership answer is reused.
const leaderRecheck = time.Second

// leadership says whether this process may write to the API server.
type leadership interface {
	leading() bool
}

// schedulerLeadership reads kube-scheduler's leadership in-process, for
// reportLoop (one goroutine; it is not safe for concurrent use).
type schedulerLeadership struct {
	// electing returns whether leader election is on, and whether that is
	// known (false: no component configuration published, i.e. not
	// kube-scheduler, or not running yet).
	electing func() (on, known bool)
	gatherer metrics.Gatherer
	now      func() time.Time

	configKnown, electionOn bool
	checked                 time.Time
	lead                    bool
}

func newSchedulerLeadership() *schedulerLeadership {
	return &schedulerLeadership{electing: configzLeaderElect, gatherer: legacyregistry.DefaultGatherer, now: time.Now}
}

// leading reports whether this process may write: it is not kube-scheduler
// (or not yet running as one), it runs without leader election, or its
// leader elector holds the lease. An answer is reused for leaderRecheck.
func (l *schedulerLeadership) leading() bool {
	now := l.now()
	if !l.checked.IsZero() && now.Sub(l.checked) < leaderRecheck {
		return l.lead
	}
	l.checked = now
	if !l.configKnown {
		on, known := l.electing()
		if !known {
			// Not kube-scheduler, or before its Run: nothing to wait for.
			// kube-scheduler publishes its configuration first thing in
			// Run, before it starts the informers that call PreEnqueue.
			l.lead = true
			return true
		}
		l.configKnown, l.electionOn = true, on
	}
	l.lead = !l.electionOn || holdsLease(l.gatherer)
	return l.lead
}

// holdsLease reports whether a leader elector of this process holds its
// lease. Before kube-scheduler has created its elector there is no series:
// not leading.
func holdsLease(g metrics.Gatherer) bool {
	families, _ := g.Gather() // partial results are still results
	for _, f := range families {
		if f.GetName() != leaderMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				return true
			}
		}
	}
	return false
}

// configzLeaderElect reads leaderElection.leaderElect of the component
// configuration this process publishes on /configz.
func configzLeaderElect() (on, known bool) {
	mux := http.NewServeMux()
	configz.InstallHandler(mux)
	w := &bufferResponse{header: http.Header{}}
	req, err := http.NewRequest(http.MethodGet, configz.DefaultConfigzPath, nil)
	if err != nil {
		return false, false
	}
	mux.ServeHTTP(w, req)
	return parseLeaderElect(w.body.Bytes())
}

// parseLeaderElect finds leaderElection.leaderElect in /configz's JSON.
func parseLeaderElect(data []byte) (on, known bool) {
	var all map[string]struct {
		LeaderElection *struct {
			LeaderElect *bool `json:"leaderElect"`
		} `json:"leaderElection"`
	}
	if err := json.Unmarshal(data, &all); err != nil {
		return false, false
	}
	c, ok := all["componentconfig"]
	if !ok || c.LeaderElection == nil {
		return false, false
	}
	return c.LeaderElection.LeaderElect != nil && *c.LeaderElection.LeaderElect, true
}

// bufferResponse is an in-memory http.ResponseWriter.
type bufferResponse struct {
	header http.Header
	body   bytes.Buffer
}

func (b *bufferResponse) Header() http.Header         { return b.header }
func (b *bufferResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferResponse) WriteHeader(int)             {}
