package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode/utf8"
)

// Outcomes of an audited action.
const (
	AuditSuccess = "success"
	AuditFailure = "failure"
	// AuditDenied records an action refused by authorization or a lockout.
	AuditDenied = "denied"
)

// AuditEvent is one entry of an audit hash chain. Seq, PrevHash and Hash are assigned by
// AuditLog.Append; everything else is the caller's. Diff holds the change as JSON with secrets
// already redacted (the appliance redacts before appending).
type AuditEvent struct {
	Seq      int64           `json:"seq"`
	TS       time.Time       `json:"ts"`
	Actor    string          `json:"actor"`
	ActorIP  string          `json:"actor_ip"`
	Tenant   string          `json:"tenant"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	Outcome  string          `json:"outcome"`
	Diff     json.RawMessage `json:"diff,omitempty"`
	TraceID  string          `json:"trace_id"`
	PrevHash []byte          `json:"prev_hash"`
	Hash     []byte          `json:"hash"`
}

// auditEventJSON is AuditEvent with its hashes as hex, so that an exported trail is readable
// and a hash can be compared with what `tenantra audit verify` prints.
type auditEventJSON struct {
	Seq      int64           `json:"seq"`
	TS       time.Time       `json:"ts"`
	Actor    string          `json:"actor"`
	ActorIP  string          `json:"actor_ip"`
	Tenant   string          `json:"tenant"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	Outcome  string          `json:"outcome"`
	Diff     json.RawMessage `json:"diff,omitempty"`
	TraceID  string          `json:"trace_id"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// MarshalJSON writes the hashes as lowercase hex.
func (e AuditEvent) MarshalJSON() ([]byte, error) {
	j := auditEventJSON{Seq: e.Seq, TS: e.TS, Actor: e.Actor, ActorIP: e.ActorIP,
		Tenant: e.Tenant, Action: e.Action, Target: e.Target, Outcome: e.Outcome, Diff: e.Diff,
		TraceID: e.TraceID, PrevHash: hex.EncodeToString(e.PrevHash),
		Hash: hex.EncodeToString(e.Hash)}
	if isNullDiff(j.Diff) {
		j.Diff = nil
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes, so an exported trail can be verified again.
func (e *AuditEvent) UnmarshalJSON(b []byte) error {
	var j auditEventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	prev, err := hex.DecodeString(j.PrevHash)
	if err != nil {
		return fmt.Errorf("audit event prev_hash: %w", err)
	}
	h, err := hex.DecodeString(j.Hash)
	if err != nil {
		return fmt.Errorf("audit event hash: %w", err)
	}
	*e = AuditEvent{Seq: j.Seq, TS: j.TS, Actor: j.Actor, ActorIP: j.ActorIP, Tenant: j.Tenant,
		Action: j.Action, Target: j.Target, Outcome: j.Outcome, Diff: j.Diff,
		TraceID: j.TraceID, PrevHash: prev, Hash: h}
	return nil
}

// AuditFilter narrows AuditLog.List. Empty fields match everything; Actor and Action match
// exactly; Since is inclusive and Until exclusive.
type AuditFilter struct {
	Actor, Action string
	Since, Until  time.Time
}

// AuditLog is one tamper-evident audit trail: the platform chain in the control database, or
// one tenant's chain in that tenant's database. Each entry carries the SHA-256 of the one
// before it (see AuditHash), so altering, removing or reordering entries breaks the chain
// at that point and Verify names it.
//
// Implementations are safe for concurrent use; appends are serialised so that every entry
// links to exactly one predecessor. Every method takes a context. When ctx carries a write
// transaction of the same database (the backend's WithTx), Append joins it, so that a change
// and its audit entry commit or roll back together; a caller holding a transaction must pass
// that transaction's context, or Append waits for the writer it holds.
type AuditLog interface {
	// Append validates and normalises e (see ChainAuditEvent), assigns Seq, PrevHash and
	// Hash, stores it and returns it as stored. A malformed event gives an error wrapping
	// ErrInvalid.
	Append(ctx context.Context, e AuditEvent) (AuditEvent, error)
	// List returns one page of the events that match f, newest first, and their total.
	// Page numbers below 1 mean 1 and sizes outside 1..MaxPageSize are clamped; a filter
	// whose Until precedes its Since gives ErrInvalid.
	List(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, int, error)
	// Scan calls fn for every event in seq order, from one consistent snapshot. An error
	// from fn stops the scan and is returned as it is.
	Scan(ctx context.Context, fn func(AuditEvent) error) error
	// Verify checks the whole chain. It returns nil, a *ChainError naming the first bad
	// entry, or another error when the log could not be read.
	Verify(ctx context.Context) error
}

// Limits of one audit event. Text fields longer than maxAuditText are cut rather than
// refused, because they may come from an attacker (a failed login's e-mail address) and
// such an event must still be recorded.
const (
	maxAuditText = 1024
	maxAuditDiff = 1 << 20
)

// auditMagic opens every canonical encoding. It separates these hashes from any other
// SHA-256 use and names the layout, so that a future layout gets a new version string.
const auditMagic = "tenantra/audit/v1\n"

// AuditCanonical returns the bytes that are hashed for e: every field except PrevHash and
// Hash, in a fixed layout that is part of the on-disk format (changing it breaks every
// existing chain, so a change needs a new auditMagic):
//
//	"tenantra/audit/v1\n"                          18 bytes, no length prefix
//	seq                                             int64, 8 bytes big-endian
//	ts, actor, actor_ip, tenant, action, target,
//	outcome, diff, trace_id                          each: uint32 big-endian length, bytes
//
// ts is the UTC time in RFC 3339 with nanoseconds and trailing zeros trimmed
// (time.RFC3339Nano). diff is the JSON compacted (no insignificant white space) with <, >, &,
// U+2028 and U+2029 inside strings written as \u escapes, exactly as encoding/json writes a
// json.RawMessage, so that a trail exported as JSON and read back hashes the same; an empty
// diff and JSON null are both encoded as zero bytes. A diff that is not valid JSON is an
// error. Length prefixes make the encoding injective: no two events share one.
func AuditCanonical(e AuditEvent) ([]byte, error) {
	diff, err := canonicalDiff(e.Diff)
	if err != nil {
		return nil, err
	}
	fields := [...]string{e.TS.UTC().Format(time.RFC3339Nano), e.Actor, e.ActorIP, e.Tenant,
		e.Action, e.Target, e.Outcome, string(diff), e.TraceID}
	n := len(auditMagic) + 8
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, auditMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq)) //nolint:gosec // two's complement kept
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f))) //nolint:gosec // ≤ 1 MiB
		b = append(b, f...)
	}
	return b, nil
}

// auditGenesis is the prev_hash of the first entry of every chain: 32 zero bytes.
var auditGenesis = make([]byte, sha256.Size)

// AuditHash returns SHA-256(prevHash || AuditCanonical(e)): the hash that e must carry when
// it follows an entry whose hash is prevHash (nil means the chain's start, 32 zero bytes).
func AuditHash(prevHash []byte, e AuditEvent) ([]byte, error) {
	c, err := AuditCanonical(e)
	if err != nil {
		return nil, err
	}
	if prevHash == nil {
		prevHash = auditGenesis
	}
	h := sha256.New()
	h.Write(prevHash)
	h.Write(c)
	return h.Sum(nil), nil
}

func isNullDiff(d json.RawMessage) bool {
	return len(bytes.TrimSpace(d)) == 0 || string(bytes.TrimSpace(d)) == "null"
}

func canonicalDiff(d json.RawMessage) ([]byte, error) {
	if isNullDiff(d) {
		return nil, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, d); err != nil {
		return nil, fmt.Errorf("audit diff is not valid JSON: %w", err)
	}
	var out bytes.Buffer
	json.HTMLEscape(&out, compact.Bytes())
	return out.Bytes(), nil
}

// ChainAuditEvent validates and normalises e and links it after the entry (prevSeq,
// prevHash); prevSeq 0 starts a chain. Both backends build entries with it, so that they
// hash identically. It returns an error wrapping ErrInvalid when Action is empty, Outcome is
// not one of the Audit* outcomes, Diff is not valid JSON or exceeds 1 MiB, or TS lies outside
// years 0–9999. Normalisation: a zero TS becomes now; TS is made UTC; text fields are made
// valid UTF-8 (invalid bytes become U+FFFD, which JSON export would do anyway and which would
// then no longer hash the same) and cut to 1024 bytes; an empty Actor becomes "system"; Diff
// takes its canonical form (see AuditCanonical).
func ChainAuditEvent(e AuditEvent, prevSeq int64, prevHash []byte) (AuditEvent, error) {
	if e.TS.IsZero() {
		e.TS = time.Now()
	}
	e.TS = e.TS.UTC()
	if y := e.TS.Year(); y < 0 || y > 9999 {
		return AuditEvent{}, Errorf(ErrInvalid, "audit event time %d is out of range", y)
	}
	for _, p := range []*string{&e.Actor, &e.ActorIP, &e.Tenant, &e.Action, &e.Target,
		&e.Outcome, &e.TraceID} {
		*p = clipText(*p)
	}
	if e.Actor == "" {
		e.Actor = "system"
	}
	if e.Action == "" {
		return AuditEvent{}, Errorf(ErrInvalid, "audit event without an action")
	}
	switch e.Outcome {
	case AuditSuccess, AuditFailure, AuditDenied:
	default:
		return AuditEvent{}, Errorf(ErrInvalid, "audit outcome %q must be %q, %q or %q",
			Truncate(e.Outcome, 40), AuditSuccess, AuditFailure, AuditDenied)
	}
	if len(e.Diff) > maxAuditDiff {
		return AuditEvent{}, Errorf(ErrInvalid, "audit diff of %d bytes exceeds %d",
			len(e.Diff), maxAuditDiff)
	}
	diff, err := canonicalDiff(e.Diff)
	if err != nil {
		return AuditEvent{}, Errorf(ErrInvalid, "%v", err)
	}
	e.Diff = diff
	if prevSeq <= 0 {
		prevSeq, prevHash = 0, nil
	}
	e.Seq = prevSeq + 1
	e.PrevHash = bytes.Clone(prevHash)
	if e.PrevHash == nil {
		e.PrevHash = bytes.Clone(auditGenesis)
	}
	if e.Hash, err = AuditHash(e.PrevHash, e); err != nil {
		return AuditEvent{}, err
	}
	return e, nil
}

func clipText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxAuditText {
		return s
	}
	cut := maxAuditText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// ChainError reports the first entry at which an audit chain is broken. Seq names that entry;
// for a missing entry it is the seq that should have been there.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d: %s", e.Seq, e.Reason)
}

// VerifyChain reads events in the order they were appended and checks that they form one
// unbroken chain from its start: seqs run 1, 2, 3, … without gaps, each prev_hash equals the
// hash of the entry before (32 zero bytes for the first), and each hash is AuditHash of the
// entry. It returns a *ChainError for the first entry that fails, or the first error the
// sequence yields. An empty chain verifies.
//
// A chain cannot show that entries were cut off its end; that needs the head (seq and hash)
// recorded elsewhere.
func VerifyChain(events iter.Seq2[AuditEvent, error]) error {
	var prevSeq int64
	prevHash := auditGenesis
	for e, err := range events {
		if err != nil {
			return err
		}
		switch {
		case e.Seq <= prevSeq:
			return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf(
				"seq %d does not increase after %d (entries reordered or duplicated)",
				e.Seq, prevSeq)}
		case e.Seq > prevSeq+1:
			return &ChainError{Seq: prevSeq + 1, Reason: fmt.Sprintf(
				"entry is missing (seq jumps from %d to %d)", prevSeq, e.Seq)}
		}
		if !bytes.Equal(e.PrevHash, prevHash) {
			return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("prev_hash does not match the "+
				"hash of entry %d (an entry was removed, replaced or moved)", prevSeq)}
		}
		h, err := AuditHash(e.PrevHash, e)
		if err != nil {
			return &ChainError{Seq: e.Seq, Reason: err.Error()}
		}
		if !bytes.Equal(h, e.Hash) {
			return &ChainError{Seq: e.Seq, Reason: "hash does not match the entry's contents " +
				"(the entry was altered)"}
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	return nil
}

// errStopScan ends a Scan early when VerifyChain stops consuming.
var errStopScan = errors.New("stop scan")

// VerifyAuditLog streams l through Scan into VerifyChain. Backends implement Verify with it.
func VerifyAuditLog(ctx context.Context, l AuditLog) error {
	var scanErr error
	events := func(yield func(AuditEvent, error) bool) {
		scanErr = l.Scan(ctx, func(e AuditEvent) error {
			if !yield(e, nil) {
				return errStopScan
			}
			return nil
		})
	}
	err := VerifyChain(events)
	if err != nil {
		return err
	}
	if scanErr != nil && !errors.Is(scanErr, errStopScan) {
		return fmt.Errorf("verify audit log: %w", scanErr)
	}
	return nil
}
