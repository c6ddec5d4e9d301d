package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenEvent exercises every field, a non-UTC zone, a diff with white space and characters
// that JSON export escapes.
func goldenEvent() AuditEvent {
	return AuditEvent{
		Seq:     42,
		TS:      time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("CET", 3600)),
		Actor:   "admin@example.com",
		ActorIP: "2001:db8::1",
		Tenant:  "acme-corp",
		Action:  "user.create",
		Target:  "bob@example.com",
		Outcome: AuditSuccess,
		Diff:    json.RawMessage(`{ "role": "standard", "note": "<b> & é" }`),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	dump := []byte(hex.Dump(got))
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, dump, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(dump, want) {
		t.Fatalf("%s changed: the canonical audit layout is an on-disk format and every "+
			"existing chain depends on it; bump auditMagic for a new layout.\ngot:\n%s\nwant:\n%s",
			path, dump, want)
	}
}

func TestAuditCanonicalGolden(t *testing.T) {
	e := goldenEvent()
	c, err := AuditCanonical(e)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "audit_canonical_v1.hex", c)
	h, err := AuditHash(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "audit_hash_v1.hex", h)
	// The layout spelled out, so that the golden file is not the only definition.
	if !bytes.HasPrefix(c, []byte("tenantra/audit/v1\n\x00\x00\x00\x00\x00\x00\x00\x2a"+
		"\x00\x00\x00\x17"+"2025-03-04T04:06:07.89Z"+"\x00\x00\x00\x11admin@example.com")) {
		t.Fatalf("canonical layout:\n%s", hex.Dump(c))
	}
	if !bytes.Contains(c, []byte(`{"role":"standard","note":"\u003cb\u003e \u0026 é"}`)) {
		t.Fatalf("diff not compacted and escaped:\n%s", hex.Dump(c))
	}
}

// TestAuditCanonicalDistinguishes checks that no two different events share an encoding,
// including events whose fields only move bytes across a field boundary.
func TestAuditCanonicalDistinguishes(t *testing.T) {
	base := goldenEvent()
	variants := map[string]func(e *AuditEvent){
		"seq":           func(e *AuditEvent) { e.Seq++ },
		"negative seq":  func(e *AuditEvent) { e.Seq = -42 },
		"ts nanosecond": func(e *AuditEvent) { e.TS = e.TS.Add(time.Nanosecond) },
		"actor":         func(e *AuditEvent) { e.Actor += "x" },
		"actor_ip":      func(e *AuditEvent) { e.ActorIP = "" },
		"tenant":        func(e *AuditEvent) { e.Tenant = "acme" },
		"action":        func(e *AuditEvent) { e.Action = "user.delete" },
		"target":        func(e *AuditEvent) { e.Target = "" },
		"outcome":       func(e *AuditEvent) { e.Outcome = AuditDenied },
		"diff":          func(e *AuditEvent) { e.Diff = json.RawMessage(`{"role":"admin"}`) },
		"no diff":       func(e *AuditEvent) { e.Diff = nil },
		"trace_id":      func(e *AuditEvent) { e.TraceID = "" },
		"boundary shift": func(e *AuditEvent) {
			e.Actor, e.ActorIP = "admin@example.com2", "001:db8::1"
		},
		"target to action": func(e *AuditEvent) {
			e.Action, e.Target = e.Action+e.Target, ""
		},
	}
	want, _ := AuditCanonical(base)
	for name, mutate := range variants {
		e := base
		mutate(&e)
		got, err := AuditCanonical(e)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Equal(got, want) {
			t.Errorf("%s: same canonical encoding as the original", name)
		}
	}
	// Equal meaning, equal bytes: zone, white space in the diff, a null diff.
	same := map[string]func(e *AuditEvent){
		"zone":       func(e *AuditEvent) { e.TS = e.TS.In(time.FixedZone("X", -7*3600)) },
		"monotonic":  func(e *AuditEvent) { e.TS = e.TS.Round(0) },
		"diff space": func(e *AuditEvent) { e.Diff = append(e.Diff, "\n\t "...) },
		"diff escaped already": func(e *AuditEvent) {
			e.Diff = json.RawMessage(`{"role":"standard","note":"\u003cb\u003e \u0026 é"}`)
		},
	}
	for name, mutate := range same {
		e := base
		mutate(&e)
		if got, _ := AuditCanonical(e); !bytes.Equal(got, want) {
			t.Errorf("%s: canonical encoding changed", name)
		}
	}
	a, _ := AuditCanonical(AuditEvent{Diff: json.RawMessage("null")})
	b, _ := AuditCanonical(AuditEvent{})
	if !bytes.Equal(a, b) {
		t.Error("null diff and no diff encode differently")
	}
	if _, err := AuditCanonical(AuditEvent{Diff: json.RawMessage(`{"a":`)}); err == nil {
		t.Error("invalid diff JSON encoded without error")
	}
}

func TestChainAuditEvent(t *testing.T) {
	ok := AuditEvent{Actor: "a", Action: "x.y", Outcome: AuditSuccess}
	tests := []struct {
		name    string
		mutate  func(e *AuditEvent)
		invalid bool
		check   func(t *testing.T, e AuditEvent)
	}{
		{name: "defaults", mutate: func(e *AuditEvent) { e.Actor = "" },
			check: func(t *testing.T, e AuditEvent) {
				if e.Actor != "system" || e.TS.IsZero() || e.TS.Location() != time.UTC {
					t.Fatalf("%+v", e)
				}
			}},
		{name: "no action", mutate: func(e *AuditEvent) { e.Action = "" }, invalid: true},
		{name: "unknown outcome", mutate: func(e *AuditEvent) { e.Outcome = "ok" },
			invalid: true},
		{name: "empty outcome", mutate: func(e *AuditEvent) { e.Outcome = "" }, invalid: true},
		{name: "invalid diff", mutate: func(e *AuditEvent) { e.Diff = []byte("{") },
			invalid: true},
		{name: "huge diff", mutate: func(e *AuditEvent) {
			e.Diff = []byte(`"` + strings.Repeat("a", maxAuditDiff) + `"`)
		}, invalid: true},
		{name: "year 10000", mutate: func(e *AuditEvent) {
			e.TS = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}, invalid: true},
		{name: "invalid utf-8 and huge actor", mutate: func(e *AuditEvent) {
			e.Actor = "\xff" + strings.Repeat("é", 2000)
		}, check: func(t *testing.T, e AuditEvent) {
			if !strings.HasPrefix(e.Actor, "\uFFFDé") || len(e.Actor) > maxAuditText ||
				!json.Valid([]byte(`"`+e.Actor+`"`)) {
				t.Fatalf("actor %q (%d bytes)", e.Actor[:10], len(e.Actor))
			}
		}},
		{name: "caller's seq and hashes ignored", mutate: func(e *AuditEvent) {
			e.Seq, e.PrevHash, e.Hash = 99, []byte("x"), []byte("y")
		}, check: func(t *testing.T, e AuditEvent) {
			if e.Seq != 1 || !bytes.Equal(e.PrevHash, make([]byte, 32)) || len(e.Hash) != 32 {
				t.Fatalf("%+v", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.mutate(&e)
			got, err := ChainAuditEvent(e, 0, nil)
			if tt.invalid {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
			if err := VerifyChain(seqOf(got)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func seqOf(events ...AuditEvent) iter.Seq2[AuditEvent, error] {
	return func(yield func(AuditEvent, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// chain builds n linked events.
func chain(t testing.TB, n int) []AuditEvent {
	t.Helper()
	var out []AuditEvent
	var prevSeq int64
	var prev []byte
	for i := range n {
		e, err := ChainAuditEvent(AuditEvent{Actor: "u" + string(rune('a'+i%26)),
			Action: "thing.update", Target: "t", Outcome: AuditSuccess,
			TS:   time.Unix(1_700_000_000+int64(i), 0),
			Diff: json.RawMessage(`{"n":` + string(rune('0'+i%10)) + `}`)}, prevSeq, prev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
		prevSeq, prev = e.Seq, e.Hash
	}
	return out
}

func TestVerifyChain(t *testing.T) {
	const verifies = -1
	tests := []struct {
		name    string
		tamper  func(es []AuditEvent) []AuditEvent
		wantSeq int64 // the entry the ChainError must name, or verifies
	}{
		{"clean", func(es []AuditEvent) []AuditEvent { return es }, verifies},
		{"empty", func([]AuditEvent) []AuditEvent { return nil }, verifies},
		{"field", func(es []AuditEvent) []AuditEvent { es[3].Target = "u"; return es }, 4},
		{"ts", func(es []AuditEvent) []AuditEvent {
			es[5].TS = es[5].TS.Add(time.Millisecond)
			return es
		}, 6},
		{"diff", func(es []AuditEvent) []AuditEvent { es[0].Diff = []byte(`{"n":9}`); return es },
			1},
		{"diff invalid", func(es []AuditEvent) []AuditEvent { es[2].Diff = []byte(`{`); return es },
			3},
		{"deleted middle", func(es []AuditEvent) []AuditEvent {
			return slices.Delete(es, 4, 5)
		}, 5},
		{"deleted first", func(es []AuditEvent) []AuditEvent { return es[1:] }, 1},
		{"deleted and renumbered", func(es []AuditEvent) []AuditEvent {
			es = slices.Delete(es, 4, 5)
			for i := 4; i < len(es); i++ {
				es[i].Seq--
			}
			return es
		}, 5},
		{"swapped contents", func(es []AuditEvent) []AuditEvent {
			es[2], es[6] = es[6], es[2]
			es[2].Seq, es[6].Seq = 3, 7
			return es
		}, 3},
		{"swapped rows", func(es []AuditEvent) []AuditEvent {
			es[2], es[3] = es[3], es[2]
			return es
		}, 3},
		{"duplicated", func(es []AuditEvent) []AuditEvent {
			return slices.Insert(es, 3, es[2])
		}, 3},
		{"prev_hash", func(es []AuditEvent) []AuditEvent { es[7].PrevHash[0] ^= 1; return es },
			8},
		{"hash truncated", func(es []AuditEvent) []AuditEvent {
			es[9].Hash = es[9].Hash[:31]
			return es
		}, 10},
		{"rehashed entry", func(es []AuditEvent) []AuditEvent {
			// Recomputing the altered entry's hash moves the break to the next entry.
			es[4].Actor = "mallory"
			es[4].Hash, _ = AuditHash(es[4].PrevHash, es[4])
			return es
		}, 6},
		{"zero seq", func(es []AuditEvent) []AuditEvent { es[0].Seq = 0; return es }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyChain(seqOf(tt.tamper(chain(t, 10))...))
			if tt.wantSeq == verifies {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a ChainError", err)
			}
			if ce.Seq != tt.wantSeq {
				t.Fatalf("got %v, want it at entry %d", err, tt.wantSeq)
			}
		})
	}
	t.Run("iterator error", func(t *testing.T) {
		boom := errors.New("boom")
		es := chain(t, 2)
		err := VerifyChain(func(yield func(AuditEvent, error) bool) {
			if yield(es[0], nil) {
				yield(AuditEvent{}, boom)
			}
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestAuditEventJSON(t *testing.T) {
	es := chain(t, 3)
	es[1].Diff = nil
	es[1].Hash, _ = AuditHash(es[1].PrevHash, es[1])
	es[2].PrevHash = es[1].Hash
	es[2].Hash, _ = AuditHash(es[2].PrevHash, es[2])
	b, err := json.Marshal(es)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"prev_hash":"0000000000000000000000000000000000000000000000` +
		`000000000000000000"`, `"hash":"` + hex.EncodeToString(es[0].Hash) + `"`,
		`"actor_ip":""`, `"trace_id":""`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Fatalf("JSON lacks %s:\n%s", want, b)
		}
	}
	var back []AuditEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain(seqOf(back...)); err != nil {
		t.Fatalf("exported trail no longer verifies: %v", err)
	}
	var e AuditEvent
	if err := json.Unmarshal([]byte(`{"hash":"zz"}`), &e); err == nil {
		t.Fatal("bad hex accepted")
	}
}

// FuzzAuditChain checks, for arbitrary field contents, that a chained event verifies, still
// verifies after a JSON export and import, and stops verifying when one byte changes.
func FuzzAuditChain(f *testing.F) {
	f.Add("admin@example.com", "10.0.0.1", "user.create", "bob", `{"role":"admin"}`, int64(0))
	f.Add("\xff\xfe", "", "a", "", `"<script>&\u2028"`, int64(-1))
	f.Add("x", "y", "z", strings.Repeat("é", 600), `[1, 2.50, {"a": null}]`, int64(1<<62))
	f.Add("", "\x00", "act", "\u2028", `null`, int64(7))
	f.Fuzz(func(t *testing.T, actor, ip, action, target, diff string, nanos int64) {
		e := AuditEvent{Actor: actor, ActorIP: ip, Action: action, Target: target,
			Outcome: AuditFailure, Diff: json.RawMessage(diff), TS: time.Unix(0, nanos)}
		first, err := ChainAuditEvent(e, 0, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
			return
		}
		second, err := ChainAuditEvent(first, first.Seq, first.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyChain(seqOf(first, second)); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal([]AuditEvent{first, second})
		if err != nil {
			t.Fatal(err)
		}
		var back []AuditEvent
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if err := VerifyChain(seqOf(back...)); err != nil {
			t.Fatalf("after JSON round trip: %v\n%s", err, b)
		}
		second.Target += "!"
		var ce *ChainError
		if err := VerifyChain(seqOf(first, second)); !errors.As(err, &ce) || ce.Seq != 2 {
			t.Fatalf("altered target: %v", err)
		}
	})
}
