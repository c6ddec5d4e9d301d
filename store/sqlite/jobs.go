package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/store"
)

const jobColumns = `id, state, request, created, started, finished, stage, done, total,
	summary, error, requested_by, schedule_id, interruptions`

func scanJob(row interface{ Scan(...any) error }) (store.ScanJob, error) {
	var j store.ScanJob
	var req, summary, created, started, finished string
	err := row.Scan(&j.ID, &j.State, &req, &created, &started, &finished, &j.Stage, &j.Done,
		&j.Total, &summary, &j.Error, &j.RequestedBy, &j.ScheduleID, &j.Interruptions)
	if err != nil {
		return j, err
	}
	j.Request = []byte(req)
	if summary != "" {
		j.Summary = []byte(summary)
	}
	j.Created, j.Started, j.Finished = parseTime(created), parseTime(started),
		parseTime(finished)
	return j, nil
}

func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// CreateScanJob queues a job; it fills in the id and creation time when they are empty.
func (t *TenantDB) CreateScanJob(ctx context.Context, j store.ScanJob) (store.ScanJob, error) {
	if j.ID == "" {
		j.ID = uuid.NewString()
	}
	if j.Created.IsZero() {
		j.Created = time.Now().UTC()
	}
	if j.State == "" {
		j.State = store.JobQueued
	}
	_, err := t.db.w(ctx).ExecContext(ctx, `INSERT INTO scan_jobs (id, state, request,
		created, requested_by, schedule_id) VALUES (?, ?, ?, ?, ?, ?)`, j.ID, j.State,
		string(j.Request), fmtTime(j.Created), j.RequestedBy, j.ScheduleID)
	if err != nil {
		return j, fmt.Errorf("create scan job: %w", err)
	}
	return t.ScanJob(ctx, j.ID)
}

// ScanJob returns one job.
func (t *TenantDB) ScanJob(ctx context.Context, id string) (store.ScanJob, error) {
	j, err := scanJob(t.db.r(ctx).QueryRowContext(ctx, "SELECT "+jobColumns+
		" FROM scan_jobs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, store.Errorf(store.ErrNotFound, "scan job %q does not exist",
			store.Truncate(id, 60))
	}
	if err != nil {
		return j, fmt.Errorf("get scan job: %w", err)
	}
	return j, nil
}

// ListScanJobs returns a page of jobs, newest first, and the total.
func (t *TenantDB) ListScanJobs(ctx context.Context, p store.Page) ([]store.ScanJob, int,
	error) {
	var total int
	if err := t.db.r(ctx).QueryRowContext(ctx, "SELECT count(*) FROM scan_jobs").
		Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count scan jobs: %w", err)
	}
	rows, err := t.db.r(ctx).QueryContext(ctx, "SELECT "+jobColumns+` FROM scan_jobs
		ORDER BY created DESC, id LIMIT ? OFFSET ?`, p.Size, (p.Page-1)*p.Size)
	if err != nil {
		return nil, 0, fmt.Errorf("list scan jobs: %w", err)
	}
	defer rows.Close()
	out := []store.ScanJob{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, j)
	}
	return out, total, rows.Err()
}

// CountWaitingScanJobs counts the jobs waiting for the runner (queued or interrupted).
func (t *TenantDB) CountWaitingScanJobs(ctx context.Context) (int, error) {
	var n int
	err := t.db.r(ctx).QueryRowContext(ctx, `SELECT count(*) FROM scan_jobs
		WHERE state IN ('queued', 'interrupted')`).Scan(&n)
	return n, err
}

// ClaimScanJob moves the oldest waiting job (queued or interrupted) to running and returns
// it; ok is false when none waits.
func (t *TenantDB) ClaimScanJob(ctx context.Context, at time.Time) (store.ScanJob, bool,
	error) {
	var j store.ScanJob
	found := false
	err := t.db.WithTx(ctx, func(ctx context.Context) error {
		var id string
		err := t.db.w(ctx).QueryRowContext(ctx, `SELECT id FROM scan_jobs
			WHERE state IN ('queued', 'interrupted') ORDER BY created, id LIMIT 1`).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := t.db.w(ctx).ExecContext(ctx, `UPDATE scan_jobs SET state = 'running',
			started = ?, error = '' WHERE id = ?`, fmtTime(at), id); err != nil {
			return err
		}
		found = true
		j, err = scanJob(t.db.w(ctx).QueryRowContext(ctx, "SELECT "+jobColumns+
			" FROM scan_jobs WHERE id = ?", id))
		return err
	})
	if err != nil {
		return j, false, fmt.Errorf("claim scan job: %w", err)
	}
	return j, found, nil
}

// UpdateScanProgress records a running job's stage and counts and, when summary is not
// nil, its partial summary (kept if a crash interrupts the job).
func (t *TenantDB) UpdateScanProgress(ctx context.Context, id, stage string, done,
	total int, summary []byte) error {
	_, err := t.db.w(ctx).ExecContext(ctx, `UPDATE scan_jobs SET stage = ?, done = ?,
		total = ?, summary = CASE WHEN ? THEN ? ELSE summary END
		WHERE id = ? AND state = 'running'`, stage, done, total, summary != nil,
		string(summary), id)
	return err
}

// FinishScanJob records a job's final (or re-queued) state, its summary and error. A
// summary of nil keeps the stored one.
func (t *TenantDB) FinishScanJob(ctx context.Context, id string, state store.JobState,
	summary []byte, errText string, at time.Time) (store.ScanJob, error) {
	fin := ""
	if state.Final() {
		fin = fmtTime(at)
	}
	_, err := t.db.w(ctx).ExecContext(ctx, `UPDATE scan_jobs SET state = ?, finished = ?,
		summary = CASE WHEN ? THEN ? ELSE summary END, error = ? WHERE id = ?`, state, fin,
		summary != nil, string(summary), errText, id)
	if err != nil {
		return store.ScanJob{}, fmt.Errorf("finish scan job: %w", err)
	}
	return t.ScanJob(ctx, id)
}

// CancelScanJob cancels a queued or interrupted job at once and reports the job; a running
// job is left to the runner, which owns its context; a final job is a conflict.
func (t *TenantDB) CancelScanJob(ctx context.Context, id string, at time.Time) (
	store.ScanJob, error) {
	var j store.ScanJob
	err := t.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if j, err = t.ScanJob(ctx, id); err != nil {
			return err
		}
		switch {
		case j.State.Final():
			return store.Errorf(store.ErrConflict, "scan job %s already %s", id, j.State)
		case j.State == store.JobRunning:
			return nil
		}
		if _, err := t.db.w(ctx).ExecContext(ctx, `UPDATE scan_jobs SET state = 'cancelled',
			finished = ? WHERE id = ?`, fmtTime(at), id); err != nil {
			return err
		}
		j.State, j.Finished = store.JobCancelled, at.UTC()
		return nil
	})
	return j, err
}

// RecoverScanJobs handles jobs found running when the appliance starts, which a crash
// interrupted: those interrupted for the first time become interrupted (and wait to run
// again); those interrupted before fail, keeping their summary. It returns both counts.
func (t *TenantDB) RecoverScanJobs(ctx context.Context, at time.Time) (requeued, failed int,
	err error) {
	err = t.db.WithTx(ctx, func(ctx context.Context) error {
		w := t.db.w(ctx)
		res, err := w.ExecContext(ctx, `UPDATE scan_jobs SET state = 'failed', finished = ?,
			error = 'interrupted twice (the appliance stopped while it ran); the summary is '
			|| 'what the job had found', interruptions = interruptions + 1
			WHERE state = 'running' AND interruptions > 0`, fmtTime(at))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		failed = int(n)
		res, err = w.ExecContext(ctx, `UPDATE scan_jobs SET state = 'interrupted',
			interruptions = interruptions + 1, error = 'interrupted: the appliance stopped '
			|| 'while it ran; re-queued' WHERE state = 'running'`)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		requeued = int(n)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("recover scan jobs: %w", err)
	}
	return requeued, failed, nil
}

// CreateScanSchedule stores a schedule; it fills in the id and creation time.
func (t *TenantDB) CreateScanSchedule(ctx context.Context, s store.ScanSchedule) (
	store.ScanSchedule, error) {
	if s.ID == "" {
		s.ID = uuid.NewString()
	}
	if s.Created.IsZero() {
		s.Created = time.Now().UTC()
	}
	_, err := t.db.w(ctx).ExecContext(ctx, `INSERT INTO scan_schedules (id, cron, request,
		created, created_by) VALUES (?, ?, ?, ?, ?)`, s.ID, s.Cron, string(s.Request),
		fmtTime(s.Created), s.CreatedBy)
	if err != nil {
		return s, fmt.Errorf("create scan schedule: %w", err)
	}
	s.Created = parseTime(fmtTime(s.Created))
	return s, nil
}

// ScanSchedules lists every schedule, oldest first.
func (t *TenantDB) ScanSchedules(ctx context.Context) ([]store.ScanSchedule, error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT id, cron, request, created,
		created_by, last_fired FROM scan_schedules ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("list scan schedules: %w", err)
	}
	defer rows.Close()
	out := []store.ScanSchedule{}
	for rows.Next() {
		var s store.ScanSchedule
		var req, created, last string
		if err := rows.Scan(&s.ID, &s.Cron, &req, &created, &s.CreatedBy, &last); err != nil {
			return nil, err
		}
		s.Request, s.Created, s.LastFired = []byte(req), parseTime(created), parseTime(last)
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteScanSchedule removes a schedule; jobs it fired stay.
func (t *TenantDB) DeleteScanSchedule(ctx context.Context, id string) error {
	res, err := t.db.w(ctx).ExecContext(ctx, "DELETE FROM scan_schedules WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete scan schedule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "scan schedule %q does not exist",
			store.Truncate(id, 60))
	}
	return nil
}

// FireScanSchedule queues a job for a schedule and records when it fired, in one
// transaction, so that a schedule never fires twice for one instant.
func (t *TenantDB) FireScanSchedule(ctx context.Context, s store.ScanSchedule,
	at time.Time) (store.ScanJob, error) {
	var j store.ScanJob
	err := t.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := t.db.w(ctx).ExecContext(ctx, `UPDATE scan_schedules SET last_fired = ?
			WHERE id = ? AND last_fired = ?`, fmtTime(at), s.ID, optTime(s.LastFired))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.Errorf(store.ErrConflict, "schedule %s fired already", s.ID)
		}
		j, err = t.CreateScanJob(ctx, store.ScanJob{Request: s.Request, Created: at,
			RequestedBy: s.CreatedBy, ScheduleID: s.ID})
		return err
	})
	return j, err
}
