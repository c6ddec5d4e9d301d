package store

import (
	"encoding/json"
	"time"
)

// JobState is where a scan job is in its life.
type JobState string

// Job states. Queued and interrupted jobs wait for the runner; the last three are final.
// Interrupted marks a job the appliance found running after a crash: it is re-queued once,
// and a second interruption fails it.
const (
	JobQueued      JobState = "queued"
	JobRunning     JobState = "running"
	JobSucceeded   JobState = "succeeded"
	JobFailed      JobState = "failed"
	JobCancelled   JobState = "cancelled"
	JobInterrupted JobState = "interrupted"
)

// Final tells whether a job in this state will not change again.
func (s JobState) Final() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// ScanJob is one queued, running or finished discovery run of a tenant.
type ScanJob struct {
	ID    string   `json:"id"`
	State JobState `json:"state"`
	// Request is the scan request without SNMP communities, which are never stored.
	Request  json.RawMessage `json:"request"`
	Created  time.Time       `json:"created"`
	Started  time.Time       `json:"started,omitzero"`
	Finished time.Time       `json:"finished,omitzero"`
	Stage    string          `json:"stage,omitempty"`
	Done     int             `json:"done"`
	Total    int             `json:"total"`
	// Summary is the scan report (hosts, open ports, assets, errors), partial for a job
	// that failed after interruptions; empty until the job ends.
	Summary       json.RawMessage `json:"summary,omitempty"`
	Error         string          `json:"error,omitempty"`
	RequestedBy   string          `json:"requested_by,omitempty"`
	ScheduleID    string          `json:"schedule_id,omitempty"`
	Interruptions int             `json:"interruptions"`
}

// ScanSchedule fires scan jobs on a cron schedule (standard five fields or @every, @daily…).
type ScanSchedule struct {
	ID        string          `json:"id"`
	Cron      string          `json:"cron"`
	Request   json.RawMessage `json:"request"`
	Created   time.Time       `json:"created"`
	CreatedBy string          `json:"created_by,omitempty"`
	LastFired time.Time       `json:"last_fired,omitzero"`
}
