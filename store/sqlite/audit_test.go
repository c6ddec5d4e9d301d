package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
)

// auditChain is one chain under test with raw access to its database, as someone holding
// the key has.
type auditChain struct {
	log    store.AuditLog
	raw    *sql.DB // the writer connection, which sees the file as it is
	withTx func(ctx context.Context, fn func(ctx context.Context) error) error
	tenant string // slug for the tenant chain, "" for the platform chain
}

var auditChains = []struct {
	name string
	open func(t *testing.T) auditChain
}{
	{"platform", func(t *testing.T) auditChain {
		s := openStore(t, t.TempDir(), 4)
		t.Cleanup(func() { s.Close() })
		return auditChain{log: s.PlatformAudit(), raw: s.control.writer,
			withTx: s.control.WithTx}
	}},
	{"tenant", func(t *testing.T) auditChain {
		s := openStore(t, t.TempDir(), 4)
		t.Cleanup(func() { s.Close() })
		if _, err := s.CreateTenant(context.Background(), "acme", "Acme"); err != nil {
			t.Fatal(err)
		}
		tdb, release, err := s.TenantDB(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release) // runs before s.Close
		return auditChain{log: tdb.Audit(), raw: tdb.db.writer, withTx: tdb.WithTx,
			tenant: "acme"}
	}},
}

var auditBase = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// auditEvent i: actors and actions rotate; odd events fall half a second past the hour,
// which checks that stored times compare as times, not as trimmed text.
func auditEvent(i int) store.AuditEvent {
	return store.AuditEvent{
		TS: auditBase.Add(time.Duration(i)*time.Hour +
			time.Duration(i%2)*500*time.Millisecond),
		Actor:   []string{"alice@example.com", "bob@example.com", "carol@example.com"}[i%3],
		ActorIP: fmt.Sprintf("192.0.2.%d", i%250),
		Action:  []string{"user.create", "tenant.update"}[i%2],
		Target:  fmt.Sprintf("target-%d", i),
		Outcome: store.AuditSuccess,
		Diff:    json.RawMessage(fmt.Sprintf(`{"name": {"old": "n%d", "new": "n%d"}}`, i, i+1)),
		TraceID: fmt.Sprintf("trace-%04d", i),
	}
}

func appendN(t *testing.T, l store.AuditLog, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := l.Append(context.Background(), auditEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditAppendVerifies(t *testing.T) {
	ctx := context.Background()
	for _, c := range auditChains {
		t.Run(c.name, func(t *testing.T) {
			ch := c.open(t)
			if err := ch.log.Verify(ctx); err != nil {
				t.Fatalf("empty chain: %v", err)
			}
			appendN(t, ch.log, 0, 20)
			// Concurrent appenders, as many request handlers are: each entry still links to
			// exactly one predecessor.
			const workers, each = 4, 15
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						e := auditEvent(100 + w*each + i)
						if _, err := ch.log.Append(ctx, e); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			// Readers at the same time see consistent prefixes of the chain.
			wg.Go(func() {
				for range 5 {
					if err := ch.log.Verify(ctx); err != nil {
						t.Errorf("verify during appends: %v", err)
					}
				}
			})
			wg.Wait()
			if err := ch.log.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			err := ch.log.Scan(ctx, func(e store.AuditEvent) error {
				seqs = append(seqs, e.Seq)
				if ch.tenant != "" && e.Tenant != ch.tenant {
					return fmt.Errorf("seq %d has tenant %q", e.Seq, e.Tenant)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := 20 + workers*each; len(seqs) != n || seqs[0] != 1 || seqs[n-1] != int64(n) {
				t.Fatalf("scan gave %d entries %v…", len(seqs), seqs[:min(5, len(seqs))])
			}
			// What Append returns is what is stored.
			got, err := ch.log.Append(ctx, auditEvent(7))
			if err != nil {
				t.Fatal(err)
			}
			list, _, err := ch.log.List(ctx, store.AuditFilter{}, store.Page{Page: 1, Size: 1})
			if err != nil || len(list) != 1 {
				t.Fatal(list, err)
			}
			if a, b := mustJSON(t, got), mustJSON(t, list[0]); a != b {
				t.Fatalf("appended %s\nstored   %s", a, b)
			}
			// An error from fn stops Scan and comes back unchanged.
			stop := errors.New("stop")
			n := 0
			err = ch.log.Scan(ctx, func(store.AuditEvent) error { n++; return stop })
			if !errors.Is(err, stop) || n != 1 {
				t.Fatalf("scan after fn error: %v after %d", err, n)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuditTamperIsDetected changes the stored chain the way someone holding the key could
// (with the append-only triggers dropped, which that person can do) and expects Verify to
// name exactly the entry that was changed.
func TestAuditTamperIsDetected(t *testing.T) {
	const n = 10
	field := func(col, val string) func(t *testing.T, db *sql.DB) {
		return func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "UPDATE audit_log SET "+col+" = ? WHERE seq = 5", val)
		}
	}
	tests := []struct {
		name    string
		tamper  func(t *testing.T, db *sql.DB)
		wantSeq int64
	}{
		{"actor", field("actor", "mallory@example.com"), 5},
		{"actor_ip", field("actor_ip", "198.51.100.1"), 5},
		{"tenant", field("tenant", "other"), 5},
		{"action", field("action", "user.delete"), 5},
		{"target", field("target", "target-99"), 5},
		{"outcome", field("outcome", store.AuditDenied), 5},
		{"diff", field("diff", `{"name":{"old":"n4","new":"evil"}}`), 5},
		{"diff removed", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "UPDATE audit_log SET diff = NULL WHERE seq = 5")
		}, 5},
		{"diff not JSON", field("diff", `{"name"`), 5},
		{"ts", field("ts", "2025-06-01T16:00:00.000000001Z"), 5},
		{"ts not a time", field("ts", "yesterday"), 5},
		{"trace_id", field("trace_id", "trace-9999"), 5},
		{"row deleted", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "DELETE FROM audit_log WHERE seq = 5")
		}, 5},
		{"first row deleted", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "DELETE FROM audit_log WHERE seq = 1")
		}, 1},
		{"rows swapped", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
			rawExec(t, db, "UPDATE audit_log SET seq = 3 WHERE seq = 7")
			rawExec(t, db, "UPDATE audit_log SET seq = 7 WHERE seq = -1")
		}, 3},
		{"contents swapped, hashes kept", func(t *testing.T, db *sql.DB) {
			swapContents(t, db, 4, 5)
		}, 4},
		{"last hash truncated", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "UPDATE audit_log SET hash = substr(hash, 1, 31) WHERE seq = ?", n)
		}, n},
		{"prev_hash zeroed", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 6")
		}, 6},
		{"last renumbered", func(t *testing.T, db *sql.DB) {
			rawExec(t, db, "UPDATE audit_log SET seq = ? WHERE seq = ?", n+2, n)
		}, n},
	}
	for _, c := range auditChains {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				ch := c.open(t)
				appendN(t, ch.log, 0, n)
				if err := ch.log.Verify(context.Background()); err != nil {
					t.Fatal(err)
				}
				rawExec(t, ch.raw, "DROP TRIGGER audit_log_no_update")
				rawExec(t, ch.raw, "DROP TRIGGER audit_log_no_delete")
				tt.tamper(t, ch.raw)
				err := ch.log.Verify(context.Background())
				var ce *store.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("got %v, want a ChainError", err)
				}
				if ce.Seq != tt.wantSeq {
					t.Fatalf("got %v, want it to name entry %d", err, tt.wantSeq)
				}
			})
		}
	}
}

func rawExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// swapContents exchanges every field of two rows except seq and the hashes.
func swapContents(t *testing.T, db *sql.DB, a, b int64) {
	t.Helper()
	const cols = "ts, actor, actor_ip, tenant, action, target, outcome, diff, trace_id"
	read := func(seq int64) []any {
		vals := make([]any, 9)
		ptrs := make([]any, 9)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := db.QueryRow("SELECT "+cols+" FROM audit_log WHERE seq = ?",
			seq).Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		return vals
	}
	va, vb := read(a), read(b)
	set := "UPDATE audit_log SET (" + cols + ") = (?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE seq = ?"
	rawExec(t, db, set, append(vb, a)...)
	rawExec(t, db, set, append(va, b)...)
}

func TestAuditIsAppendOnly(t *testing.T) {
	for _, c := range auditChains {
		t.Run(c.name, func(t *testing.T) {
			ch := c.open(t)
			appendN(t, ch.log, 0, 2)
			for _, q := range []string{"UPDATE audit_log SET actor = 'x' WHERE seq = 1",
				"DELETE FROM audit_log WHERE seq = 2"} {
				if _, err := ch.raw.Exec(q); err == nil ||
					!strings.Contains(err.Error(), "append-only") {
					t.Fatalf("%s: got %v, want the append-only trigger", q, err)
				}
			}
		})
	}
}

// TestAuditJoinsTransaction checks that a change and its audit entry commit or roll back
// together when Append runs inside the caller's transaction.
func TestAuditJoinsTransaction(t *testing.T) {
	ctx := context.Background()
	for _, c := range auditChains {
		t.Run(c.name, func(t *testing.T) {
			ch := c.open(t)
			appendN(t, ch.log, 0, 1)
			abort := errors.New("abort")
			err := ch.withTx(ctx, func(ctx context.Context) error {
				if _, err := ch.log.Append(ctx, auditEvent(1)); err != nil {
					return err
				}
				// The transaction reads its own entry…
				if _, total, err := ch.log.List(ctx, store.AuditFilter{},
					store.Page{Page: 1, Size: 1}); err != nil || total != 2 {
					return fmt.Errorf("inside: total %d, %w", total, err)
				}
				return abort
			})
			if !errors.Is(err, abort) {
				t.Fatal(err)
			}
			// …and nothing of it remains after the rollback.
			if _, total, _ := ch.log.List(ctx, store.AuditFilter{}, store.Page{}); total != 1 {
				t.Fatalf("after rollback: %d entries, want 1", total)
			}
			err = ch.withTx(ctx, func(ctx context.Context) error {
				for i := range 3 {
					if _, err := ch.log.Append(ctx, auditEvent(10+i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, total, _ := ch.log.List(ctx, store.AuditFilter{}, store.Page{}); total != 4 {
				t.Fatalf("after commit: %d entries, want 4", total)
			}
			if err := ch.log.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAuditAssetAndEntryCommitTogether(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	defer s.Close()
	if _, err := s.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	tdb, release, err := s.TenantDB(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, fail := range []bool{true, false} {
		err := tdb.WithTx(ctx, func(ctx context.Context) error {
			if err := tdb.UpsertAssets(ctx, []store.Asset{{ID: "a1", Name: "fw"}}); err != nil {
				return err
			}
			if _, err := tdb.Audit().Append(ctx, store.AuditEvent{Actor: "alice",
				Action: "asset.create", Target: "a1", Outcome: store.AuditSuccess}); err != nil {
				return err
			}
			if fail {
				return errors.New("abort")
			}
			return nil
		})
		assets, _ := tdb.CountAssets(ctx)
		_, entries, _ := tdb.Audit().List(ctx, store.AuditFilter{}, store.Page{})
		if want := map[bool]int{true: 0, false: 1}[fail]; assets != want || entries != want {
			t.Fatalf("fail=%v (%v): %d assets and %d entries, want %d of each", fail, err,
				assets, entries, want)
		}
	}
}

func TestAuditList(t *testing.T) {
	ctx := context.Background()
	ts := func(i int) time.Time { return auditEvent(i).TS } // event i has seq i+1
	tests := []struct {
		name    string
		f       store.AuditFilter
		want    []int64 // seqs, newest first
		invalid bool
	}{
		{name: "all", want: seqRange(12, 1)},
		{name: "actor", f: store.AuditFilter{Actor: "alice@example.com"},
			want: []int64{10, 7, 4, 1}},
		{name: "unknown actor", f: store.AuditFilter{Actor: "eve"}, want: []int64{}},
		{name: "actor is exact", f: store.AuditFilter{Actor: "alice%"}, want: []int64{}},
		{name: "action", f: store.AuditFilter{Action: "tenant.update"},
			want: []int64{12, 10, 8, 6, 4, 2}},
		{name: "since inclusive", f: store.AuditFilter{Since: ts(4)}, want: seqRange(12, 5)},
		{name: "since half second", f: store.AuditFilter{Since: ts(1)}, want: seqRange(12, 2)},
		{name: "since one ns later", f: store.AuditFilter{Since: ts(1).Add(time.Nanosecond)},
			want: seqRange(12, 3)},
		{name: "until exclusive", f: store.AuditFilter{Until: ts(4)}, want: seqRange(4, 1)},
		{name: "until in another zone", f: store.AuditFilter{
			Until: ts(4).In(time.FixedZone("PDT", -7*3600))}, want: seqRange(4, 1)},
		{name: "range", f: store.AuditFilter{Since: ts(2), Until: ts(6)},
			want: seqRange(6, 3)},
		{name: "actor and range", f: store.AuditFilter{Actor: "bob@example.com",
			Action: "tenant.update", Since: ts(1)}, want: []int64{8, 2}},
		{name: "until before since", f: store.AuditFilter{Since: ts(6), Until: ts(2)},
			invalid: true},
		{name: "year out of range", f: store.AuditFilter{
			Since: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, invalid: true},
	}
	for _, c := range auditChains {
		t.Run(c.name, func(t *testing.T) {
			ch := c.open(t)
			appendN(t, ch.log, 0, 12)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					list, total, err := ch.log.List(ctx, tt.f, store.Page{Page: 1, Size: 100})
					if tt.invalid {
						if !errors.Is(err, store.ErrInvalid) {
							t.Fatalf("got %v, want ErrInvalid", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					got := []int64{}
					for _, e := range list {
						got = append(got, e.Seq)
					}
					if fmt.Sprint(got) != fmt.Sprint(tt.want) || total != len(tt.want) {
						t.Fatalf("got %v (total %d), want %v", got, total, tt.want)
					}
				})
			}
			t.Run("pages", func(t *testing.T) {
				var got []int64
				for page := 1; page <= 4; page++ {
					list, total, err := ch.log.List(ctx, store.AuditFilter{},
						store.Page{Page: page, Size: 5})
					if err != nil || total != 12 {
						t.Fatalf("page %d: total %d, %v", page, total, err)
					}
					if want := []int{5, 5, 2, 0}[page-1]; len(list) != want {
						t.Fatalf("page %d has %d entries, want %d", page, len(list), want)
					}
					for _, e := range list {
						got = append(got, e.Seq)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(seqRange(12, 1)) {
					t.Fatalf("pages gave %v", got)
				}
				list, total, err := ch.log.List(ctx, store.AuditFilter{Actor: "bob@example.com"},
					store.Page{Page: 2, Size: 3})
				if err != nil || total != 4 || len(list) != 1 || list[0].Seq != 2 {
					t.Fatalf("filtered page 2: %d entries, total %d, %v", len(list), total, err)
				}
				// Out-of-range pages are clamped rather than refused.
				list, _, err = ch.log.List(ctx, store.AuditFilter{}, store.Page{Page: 0,
					Size: 10_000})
				if err != nil || len(list) != 12 {
					t.Fatalf("clamped page: %d entries, %v", len(list), err)
				}
			})
		})
	}
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s >= to; s-- {
		out = append(out, s)
	}
	return out
}

func TestAuditAppendRefusesBadEvents(t *testing.T) {
	ctx := context.Background()
	for _, c := range auditChains {
		t.Run(c.name, func(t *testing.T) {
			ch := c.open(t)
			appendN(t, ch.log, 0, 1)
			bad := map[string]func(e *store.AuditEvent){
				"outcome":      func(e *store.AuditEvent) { e.Outcome = "maybe" },
				"no action":    func(e *store.AuditEvent) { e.Action = "" },
				"invalid diff": func(e *store.AuditEvent) { e.Diff = json.RawMessage("{") },
			}
			if ch.tenant != "" {
				bad["other tenant"] = func(e *store.AuditEvent) { e.Tenant = "globex" }
			}
			for name, mutate := range bad {
				e := auditEvent(1)
				mutate(&e)
				if _, err := ch.log.Append(ctx, e); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("%s: got %v, want ErrInvalid", name, err)
				}
			}
			// Hostile text is recorded (cleaned), not refused: a failed login must be audited
			// whatever the attacker typed.
			e := auditEvent(1)
			e.Actor = "\xff\xfe" + strings.Repeat("x", 5000)
			e.Target = "'; DROP TABLE audit_log; --"
			e.Diff = nil
			got, err := ch.log.Append(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if got.Seq != 2 || !strings.HasPrefix(got.Actor, "\uFFFDxxx") ||
				len(got.Actor) > 1024 || got.Diff != nil {
				t.Fatalf("stored %+v", got)
			}
			if ch.tenant != "" && got.Tenant != ch.tenant {
				t.Fatalf("tenant %q, want %q", got.Tenant, ch.tenant)
			}
			if err := ch.log.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAuditSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	appendN(t, s.PlatformAudit(), 0, 3)
	s.Close()
	s = openStore(t, dir, 4)
	defer s.Close()
	e, err := s.PlatformAudit().Append(ctx, auditEvent(3))
	if err != nil || e.Seq != 4 {
		t.Fatalf("append after reopen: seq %d, %v", e.Seq, err)
	}
	if err := s.PlatformAudit().Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
