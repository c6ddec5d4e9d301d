package ldap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The decoders below read values a server sent: they never panic and treat anything malformed
// as absent.

// fileTimeEpoch is 1970-01-01 in FILETIME (100 ns intervals since 1601-01-01 UTC).
const fileTimeEpoch = 116444736000000000

// DecodeFileTime parses an AD FILETIME (lastLogonTimestamp, pwdLastSet, …). 0 and the
// maximum value mean "never" and give the zero time, as do malformed and negative values.
func DecodeFileTime(s string) time.Time {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 || v == math.MaxInt64 {
		return time.Time{}
	}
	v -= fileTimeEpoch
	return time.Unix(v/1e7, (v%1e7)*100).UTC()
}

// EncodeFileTime is DecodeFileTime's inverse (for filters and tests).
func EncodeFileTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()*1e7 + int64(t.Nanosecond())/100 + fileTimeEpoch
}

// generalizedLayouts are the GeneralizedTime forms AD and other servers send (whenCreated is
// "20240102030405.0Z").
var generalizedLayouts = []string{
	"20060102150405.9Z07:00", "20060102150405.9Z0700", "20060102150405Z0700",
	"200601021504Z0700", "2006010215Z0700",
}

// DecodeGeneralizedTime parses an LDAP GeneralizedTime; malformed gives the zero time.
func DecodeGeneralizedTime(s string) time.Time {
	s = strings.TrimSpace(s)
	// Go's fractional layout needs a dot; some servers send a comma.
	s = strings.Replace(s, ",", ".", 1)
	for _, l := range generalizedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Interval is an AD duration attribute (maxPwdAge, lockoutDuration, …), stored as a
// negative count of 100 ns units.
type Interval struct {
	Units int64 // positive 100 ns units
	Never bool  // the "forever" value (-2^63, or 0 for maxPwdAge set to "never")
}

// DecodeInterval parses an AD interval. -2^63 is "never"; 0 is also reported as Never, which
// is what AD means by maxPwdAge 0 (and a lockoutDuration of 0 means "until an administrator
// unlocks", the same forever). Malformed values give the zero Interval.
func DecodeInterval(s string) Interval {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return Interval{}
	}
	switch {
	case v == math.MinInt64 || v == 0:
		return Interval{Never: true}
	case v < 0:
		return Interval{Units: -v}
	default:
		// Some tools write positive values; the magnitude is what they mean.
		return Interval{Units: v}
	}
}

// Days is the interval in whole days, 0 when Never.
func (i Interval) Days() int {
	if i.Never {
		return 0
	}
	return int(i.Units / (24 * 3600 * 1e7))
}

// Minutes is the interval in whole minutes, -1 when Never.
func (i Interval) Minutes() int {
	if i.Never {
		return -1
	}
	return int(i.Units / (60 * 1e7))
}

var errBadSID = errors.New("malformed SID")

// DecodeSID renders a binary SID (objectSid) as "S-1-5-21-…".
func DecodeSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errBadSID
	}
	n := int(b[1])
	if n > 15 || len(b) != 8+4*n {
		return "", errBadSID
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var s strings.Builder
	s.WriteString("S-")
	s.WriteString(strconv.Itoa(int(b[0])))
	s.WriteByte('-')
	if auth >= 1<<32 {
		fmt.Fprintf(&s, "0x%012X", auth)
	} else {
		s.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := range n {
		s.WriteByte('-')
		s.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return s.String(), nil
}

// EncodeSID is DecodeSID's inverse, for search filters.
func EncodeSID(sid string) ([]byte, error) {
	parts := strings.Split(sid, "-")
	if len(parts) < 3 || parts[0] != "S" || len(parts)-3 > 15 {
		return nil, errBadSID
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return nil, errBadSID
	}
	var auth uint64
	if h, ok := strings.CutPrefix(parts[2], "0x"); ok {
		auth, err = strconv.ParseUint(h, 16, 48)
	} else {
		auth, err = strconv.ParseUint(parts[2], 10, 48)
	}
	if err != nil {
		return nil, errBadSID
	}
	b := make([]byte, 8, 8+4*(len(parts)-3))
	b[0], b[1] = byte(rev), byte(len(parts)-3)
	for i := range 6 {
		b[7-i] = byte(auth >> (8 * i))
	}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, errBadSID
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b, nil
}

// RID is the last sub-authority of a SID string, 0 when there is none.
func RID(sid string) uint32 {
	i := strings.LastIndexByte(sid, '-')
	if i < 0 || strings.Count(sid, "-") < 3 {
		return 0
	}
	v, err := strconv.ParseUint(sid[i+1:], 10, 32)
	if err != nil {
		return 0
	}
	return uint32(v)
}

// DecodeGUID renders a binary objectGUID as the canonical lower-case UUID string (the first
// three fields are little-endian on the wire).
func DecodeGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", errors.New("malformed GUID")
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]), b[8:10],
		b[10:16]), nil
}

// CleanString makes a server's attribute value safe to store and print: invalid UTF-8 bytes
// become U+FFFD.
func CleanString(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

// atoi parses a decimal attribute, 0 when absent or malformed. userAccountControl and
// groupType may be sent as negative 32-bit values; they keep their bits.
func atoi(s string) int {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < math.MinInt32 || v > math.MaxUint32 {
		return 0
	}
	return int(v)
}

// filterEscapeBytes escapes every byte for an LDAP filter assertion value (binary SIDs).
func filterEscapeBytes(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\%02x", c)
	}
	return s.String()
}
