package fingerprint

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"time"
)

// SMBInfo is what an SMB negotiate exchange tells: the dialect the server picked, whether
// it insists on signing, its GUID and clock, and (from a second, SMB1-only negotiate)
// whether SMBv1 is still enabled.
type SMBInfo struct {
	SMB1            bool   `json:"smb1"`    // this response is an SMB1 one
	Dialect         string `json:"dialect"` // "3.1.1", "2.1", "NT LM 0.12", …
	SigningEnabled  bool   `json:"signing_enabled"`
	SigningRequired bool   `json:"signing_required"`
	ServerGUID      string `json:"server_guid,omitempty"`
	SystemTime      string `json:"system_time,omitempty"`
	Capabilities    uint32 `json:"capabilities"`
	// SMBv1Enabled is set by GrabSMB from its SMB1-only negotiate, never by ParseSMB.
	SMBv1Enabled bool `json:"smbv1_enabled"`
}

// SMB2 dialect revisions (MS-SMB2 §2.2.3). 0x02FF is the "wildcard" an SMB2 server answers
// to an SMB1 multi-protocol negotiate.
var smb2Dialects = map[uint16]string{
	0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1",
	0x02ff: "2.???",
}

// smb2NegotiateRequest builds an SMB2 NEGOTIATE (MS-SMB2 §2.2.3) offering 2.0.2 to 3.1.1,
// inside a NetBIOS session message (RFC 1002 §4.3.1: type 0, 24-bit length). Offering
// 3.1.1 requires a PREAUTH_INTEGRITY_CAPABILITIES context (§2.2.3.1.1), or Windows rejects
// the request; an ENCRYPTION_CAPABILITIES context is added as Windows clients do.
func smb2NegotiateRequest() []byte {
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302, 0x0311}
	msg := make([]byte, 64, 176)
	copy(msg, "\xfeSMB")
	binary.LittleEndian.PutUint16(msg[4:], 64) // StructureSize
	binary.LittleEndian.PutUint16(msg[14:], 1) // CreditRequest
	// NEGOTIATE body: StructureSize 36, DialectCount, SecurityMode=signing enabled.
	body := make([]byte, 36)
	binary.LittleEndian.PutUint16(body[0:], 36)
	binary.LittleEndian.PutUint16(body[2:], uint16(len(dialects)))
	binary.LittleEndian.PutUint16(body[4:], 1)
	copy(body[12:28], "Tenantra-Discovr") // ClientGuid: any 16 bytes
	msg = append(msg, body...)
	for _, d := range dialects {
		msg = binary.LittleEndian.AppendUint16(msg, d)
	}
	pad8 := func() {
		for len(msg)%8 != 0 {
			msg = append(msg, 0)
		}
	}
	pad8()
	binary.LittleEndian.PutUint32(msg[64+28:], uint32(len(msg))) // NegotiateContextOffset
	binary.LittleEndian.PutUint16(msg[64+32:], 2)                // NegotiateContextCount
	// PREAUTH_INTEGRITY_CAPABILITIES: one hash (SHA-512), 32-byte salt.
	msg = append(msg, 1, 0, 38, 0, 0, 0, 0, 0, 1, 0, 32, 0, 1, 0)
	msg = append(msg, make([]byte, 32)...)
	pad8()
	// ENCRYPTION_CAPABILITIES: AES-128-GCM, AES-128-CCM.
	msg = append(msg, 2, 0, 6, 0, 0, 0, 0, 0, 2, 0, 2, 0, 1, 0)
	return netbios(msg)
}

// smb1NegotiateRequest builds an SMB_COM_NEGOTIATE (MS-CIFS §2.2.4.52) offering only
// "NT LM 0.12". A server that has SMBv1 disabled drops the connection or refuses the
// dialect; one that answers with dialect index 0 has SMBv1 enabled.
func smb1NegotiateRequest() []byte {
	msg := make([]byte, 32)
	copy(msg, "\xffSMB")
	msg[4] = 0x72                                   // SMB_COM_NEGOTIATE
	msg[9] = 0x18                                   // Flags: canonical paths, case-insensitive
	binary.LittleEndian.PutUint16(msg[10:], 0xc801) // Flags2: unicode, NT status, long names
	dialect := []byte("\x02NT LM 0.12\x00")
	msg = append(msg, 0) // WordCount
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(dialect)))
	msg = append(msg, dialect...)
	return netbios(msg)
}

func netbios(msg []byte) []byte {
	n := len(msg)
	return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

// maxNetBIOS caps a negotiate response; real ones are a few hundred bytes (plus a
// security blob) and the 24-bit length field could otherwise ask for 16 MiB.
const maxNetBIOS = 64 << 10

func netbiosFrame(buf []byte, _ bool) (int, error) {
	if len(buf) < 4 {
		return 0, nil
	}
	if buf[0] != 0 {
		return 0, fmt.Errorf("%w: NetBIOS message type %#x", ErrMalformed, buf[0])
	}
	n := int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
	if n > maxNetBIOS {
		return 0, fmt.Errorf("%w: NetBIOS length %d", ErrMalformed, n)
	}
	if len(buf) < 4+n {
		return 0, nil
	}
	return 4 + n, nil
}

// ParseSMB parses one NetBIOS-framed negotiate response, SMB2 or SMB1.
func ParseSMB(captured []byte) (SMBInfo, error) {
	n, err := netbiosFrame(captured, true)
	if err != nil {
		return SMBInfo{}, err
	}
	if n == 0 {
		return SMBInfo{}, fmt.Errorf("%w: truncated NetBIOS message", ErrMalformed)
	}
	msg := captured[4:n]
	switch {
	case len(msg) >= 4 && string(msg[:4]) == "\xfeSMB":
		return parseSMB2(msg)
	case len(msg) >= 4 && string(msg[:4]) == "\xffSMB":
		return parseSMB1(msg)
	}
	return SMBInfo{}, fmt.Errorf("%w: not an SMB message", ErrMalformed)
}

func parseSMB2(msg []byte) (SMBInfo, error) {
	// 64-byte header, then the 65-byte NEGOTIATE response fixed part.
	if len(msg) < 64+64 {
		return SMBInfo{}, fmt.Errorf("%w: short SMB2 negotiate response", ErrMalformed)
	}
	le := binary.LittleEndian
	if cmd := le.Uint16(msg[12:]); cmd != 0 {
		return SMBInfo{}, fmt.Errorf("%w: SMB2 command %d, want NEGOTIATE", ErrMalformed, cmd)
	}
	if st := le.Uint32(msg[8:]); st != 0 {
		return SMBInfo{}, fmt.Errorf("%w: SMB2 negotiate status %#08x", ErrMalformed, st)
	}
	b := msg[64:]
	if le.Uint16(b) != 65 {
		return SMBInfo{}, fmt.Errorf("%w: SMB2 negotiate structure size", ErrMalformed)
	}
	mode := le.Uint16(b[2:])
	d := le.Uint16(b[4:])
	info := SMBInfo{
		Dialect:         smb2Dialects[d],
		SigningEnabled:  mode&1 != 0,
		SigningRequired: mode&2 != 0,
		ServerGUID:      guidString(b[8:24]),
		Capabilities:    le.Uint32(b[24:]),
		SystemTime:      filetime(le.Uint64(b[40:])),
	}
	if info.Dialect == "" {
		info.Dialect = fmt.Sprintf("0x%04x", d)
	}
	return info, nil
}

func parseSMB1(msg []byte) (SMBInfo, error) {
	// 32-byte header, WordCount, words, ByteCount, bytes.
	if len(msg) < 32+1+2 {
		return SMBInfo{}, fmt.Errorf("%w: short SMB1 negotiate response", ErrMalformed)
	}
	le := binary.LittleEndian
	if msg[4] != 0x72 {
		return SMBInfo{}, fmt.Errorf("%w: SMB1 command %#x, want NEGOTIATE", ErrMalformed,
			msg[4])
	}
	if st := le.Uint32(msg[5:]); st != 0 {
		return SMBInfo{}, fmt.Errorf("%w: SMB1 negotiate status %#08x", ErrMalformed, st)
	}
	wc := int(msg[32])
	words := msg[33:]
	if len(words) < 2*wc || wc < 1 {
		return SMBInfo{}, fmt.Errorf("%w: SMB1 word count %d", ErrMalformed, wc)
	}
	idx := le.Uint16(words)
	info := SMBInfo{SMB1: true}
	if idx == 0xffff {
		return info, fmt.Errorf("%w: server accepted none of the SMB1 dialects", ErrMalformed)
	}
	// The request offers one dialect, so index 0 is "NT LM 0.12"; its response has 17
	// words (MS-CIFS §2.2.4.52.2).
	info.Dialect = "NT LM 0.12"
	if idx != 0 {
		info.Dialect = fmt.Sprintf("index %d", idx)
	}
	if wc >= 17 {
		mode := words[2]
		info.SigningEnabled = mode&0x04 != 0
		info.SigningRequired = mode&0x08 != 0
		info.Capabilities = le.Uint32(words[19:])
		info.SystemTime = filetime(le.Uint64(words[23:]))
	}
	return info, nil
}

// guidString formats a little-endian GUID (MS-DTYP §2.3.4) the way Windows shows it.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%s-%s", le.Uint32(b), le.Uint16(b[4:]),
		le.Uint16(b[6:]), hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16]))
}

// filetime converts 100-ns ticks since 1601 to RFC 3339; zero or absurd values are empty.
func filetime(ft uint64) string {
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	if ft <= epochDiff || ft > epochDiff+uint64(200*365*24*3600)*1e7 {
		return ""
	}
	ns := (ft - epochDiff) * 100
	return time.Unix(0, int64(ns)).UTC().Format(time.RFC3339)
}

// GrabSMB negotiates SMB2 on one connection and SMB1 on a second: a server that speaks
// SMB2 answers a combined negotiate with SMB2, hiding whether SMBv1 is still enabled, so
// only an SMB1-only request tells. The SMB2 answer is what is described; a server that
// speaks only SMB1 is described by its SMB1 answer.
func GrabSMB(ctx context.Context, dial Dialer, lim Limits) (SMBInfo, error) {
	info, err2 := negotiate(ctx, dial, lim, smb2NegotiateRequest())
	v1, err1 := negotiate(ctx, dial, lim, smb1NegotiateRequest())
	if err1 == nil && v1.SMB1 {
		if err2 != nil {
			info = v1
		}
		info.SMBv1Enabled = true
		return info, nil
	}
	if err2 != nil {
		return SMBInfo{}, fmt.Errorf("smb: %w", err2)
	}
	return info, nil
}

func negotiate(ctx context.Context, dial Dialer, lim Limits, req []byte) (SMBInfo, error) {
	conn, err := dial(ctx)
	if err != nil {
		return SMBInfo{}, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	return exchangeSMB(ctx, conn, lim, req)
}

func exchangeSMB(ctx context.Context, conn net.Conn, lim Limits, req []byte) (SMBInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	if err := s.write(req); err != nil {
		return SMBInfo{}, err
	}
	msg, err := s.read(netbiosFrame)
	if err != nil {
		return SMBInfo{}, err
	}
	return ParseSMB(msg)
}

// Service converts the result for the asset record.
func (i SMBInfo) Service(port int) Service {
	s := newService(port, "smb")
	s.Version = i.Dialect
	s.Evidence["dialect"] = i.Dialect
	setEvidence(&s, "server_guid", i.ServerGUID)
	setEvidence(&s, "system_time", i.SystemTime)
	s.Evidence["signing"] = map[bool]string{true: "required", false: "optional"}[i.SigningRequired]
	if i.SMBv1Enabled || i.SMB1 {
		addFinding(&s, FindingSMBv1Enabled)
	}
	if !i.SigningRequired {
		addFinding(&s, FindingSMBSigningOptional)
	}
	return s
}
