package lab

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"net"
	"strconv"
	"time"
)

// --- MongoDB (OP_MSG, BSON) ---

// bsonKV is one field of a BSON document being built; values are string, int32, float64,
// bool, []bsonKV (a sub-document) or [][]bsonKV (an array of documents).
type bsonKV struct {
	k string
	v any
}

func appendBSON(b []byte, fields []bsonKV) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, f := range fields {
		key := func(t byte) { b = append(append(append(b, t), f.k...), 0) }
		switch v := f.v.(type) {
		case string:
			key(0x02)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)+1))
			b = append(append(b, v...), 0)
		case int32:
			key(0x10)
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case float64:
			key(0x01)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case bool:
			key(0x08)
			b = append(b, map[bool]byte{true: 1, false: 0}[v])
		case []bsonKV:
			key(0x03)
			b = appendBSON(b, v)
		case [][]bsonKV:
			key(0x04)
			arr := make([]bsonKV, len(v))
			for i, d := range v {
				arr[i] = bsonKV{strconv.Itoa(i), d}
			}
			b = appendBSON(b, arr)
		}
	}
	b = append(b, 0)
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// serveMongoDB answers hello, isMaster, buildInfo and listDatabases without
// authentication, like a mongod started without --auth.
func serveMongoDB(_ *env, c net.Conn) {
	var reqID int32 = 1000
	for range 32 {
		head := make([]byte, 16)
		if _, err := io.ReadFull(c, head); err != nil {
			return
		}
		n := int(int32(binary.LittleEndian.Uint32(head)))
		if n < 16+6 || n > 48<<10 {
			return
		}
		body := make([]byte, n-16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if binary.LittleEndian.Uint32(head[12:]) != 2013 || body[4] != 0 {
			return // only OP_MSG with a body section first
		}
		var doc []bsonKV
		switch firstKey(body[5:]) {
		case "hello", "isMaster", "ismaster":
			doc = []bsonKV{{"isWritablePrimary", true}, {"ismaster", true},
				{"topologyVersion", []bsonKV{{"counter", int32(0)}}},
				{"maxBsonObjectSize", int32(16 << 20)}, {"maxWireVersion", int32(21)},
				{"minWireVersion", int32(0)}, {"readOnly", false}, {"ok", 1.0}}
		case "buildInfo", "buildinfo":
			doc = []bsonKV{{"version", "7.0.5"}, {"gitVersion", "lab"}, {"bits", int32(64)},
				{"ok", 1.0}}
		case "listDatabases":
			doc = []bsonKV{{"databases", [][]bsonKV{{{"name", "admin"}}, {{"name", "config"}},
				{{"name", "inventory"}}}}, {"ok", 1.0}}
		default:
			doc = []bsonKV{{"ok", 0.0}, {"errmsg", "no such command"}, {"code", int32(59)}}
		}
		reqID++
		out := make([]byte, 16, 256)
		binary.LittleEndian.PutUint32(out[4:], uint32(reqID))
		copy(out[8:12], head[4:8]) // responseTo = the request's id
		binary.LittleEndian.PutUint32(out[12:], 2013)
		out = append(out, 0, 0, 0, 0, 0)
		out = appendBSON(out, doc)
		binary.LittleEndian.PutUint32(out, uint32(len(out)))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// firstKey returns the key of a BSON document's first field: the command name.
func firstKey(doc []byte) string {
	if len(doc) < 6 {
		return ""
	}
	k := doc[5:]
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return string(k[:i])
	}
	return ""
}

// --- SMB (NetBIOS session messages) ---

// serveSMB answers SMB2 NEGOTIATE with dialect 3.1.1. The SMB1 variant also answers an
// SMB1 NEGOTIATE offering "NT LM 0.12" and does not require signing; the modern one hangs
// up on SMB1, as Windows does with SMBv1 disabled.
func serveSMB(e *env, c net.Conn) {
	for range 4 {
		h := make([]byte, 4)
		if _, err := io.ReadFull(c, h); err != nil || h[0] != 0 {
			return
		}
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		if n < 4 || n > 16<<10 {
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		var reply []byte
		switch {
		case string(msg[:4]) == "\xfeSMB" && len(msg) >= 64 &&
			binary.LittleEndian.Uint16(msg[12:]) == 0:
			reply = smb2NegotiateResponse(e.kind == SMB1, msg[24:32])
		case string(msg[:4]) == "\xffSMB" && len(msg) >= 32 && msg[4] == 0x72 && e.kind == SMB1:
			idx := smb1DialectIndex(msg[32:], "NT LM 0.12")
			if idx < 0 {
				return
			}
			reply = smb1NegotiateResponse(uint16(idx))
		default:
			return
		}
		if _, err := c.Write(netbios(reply)); err != nil {
			return
		}
	}
}

func netbios(msg []byte) []byte {
	n := len(msg)
	return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

// labGUID is the lab's SMB server GUID.
var labGUID = [16]byte{'t', 'e', 'n', 'a', 'n', 't', 'r', 'a', '-', 'l', 'a', 'b', 0, 0, 0, 1}

func filetimeNow() uint64 {
	return uint64(time.Now().UnixNano()/100) + 116444736000000000
}

// smb2NegotiateResponse builds an SMB2 NEGOTIATE response (MS-SMB2 §2.2.4).
func smb2NegotiateResponse(signingOptional bool, messageID []byte) []byte {
	le := binary.LittleEndian
	h := make([]byte, 64)
	copy(h, "\xfeSMB")
	le.PutUint16(h[4:], 64)
	le.PutUint16(h[14:], 1) // CreditResponse
	le.PutUint32(h[16:], 1) // SMB2_FLAGS_SERVER_TO_REDIR
	copy(h[24:32], messageID)
	b := make([]byte, 64)
	le.PutUint16(b, 65)
	mode := uint16(0x03) // signing enabled and required
	if signingOptional {
		mode = 0x01
	}
	le.PutUint16(b[2:], mode)
	le.PutUint16(b[4:], 0x0311)
	copy(b[8:24], labGUID[:])
	le.PutUint32(b[24:], 0x2f)
	le.PutUint32(b[28:], 8<<20)
	le.PutUint32(b[32:], 8<<20)
	le.PutUint32(b[36:], 8<<20)
	le.PutUint64(b[40:], filetimeNow())
	blob := []byte("\x60\x28\x06\x06\x2b\x06\x01\x05\x05\x02") // start of a SPNEGO token
	le.PutUint16(b[56:], 128)
	le.PutUint16(b[58:], uint16(len(blob)))
	return append(append(h, b...), blob...)
}

// smb1DialectIndex finds want in an SMB_COM_NEGOTIATE's dialect list (0x02, name, NUL).
func smb1DialectIndex(p []byte, want string) int {
	if len(p) < 3 {
		return -1
	}
	list := p[3:] // WordCount 0, ByteCount
	for i := 0; len(list) > 1 && list[0] == 0x02; i++ {
		end := bytes.IndexByte(list[1:], 0)
		if end < 0 {
			return -1
		}
		if string(list[1:1+end]) == want {
			return i
		}
		list = list[2+end:]
	}
	return -1
}

// smb1NegotiateResponse builds the NT LM 0.12 answer (MS-CIFS §2.2.4.52.2) with extended
// security and signing enabled but not required.
func smb1NegotiateResponse(idx uint16) []byte {
	le := binary.LittleEndian
	h := make([]byte, 32)
	copy(h, "\xffSMB")
	h[4] = 0x72
	h[9] = 0x88
	le.PutUint16(h[10:], 0xc801)
	w := make([]byte, 34)
	le.PutUint16(w, idx)
	w[2] = 0x01 | 0x02 | 0x04 // user security, encrypt passwords, signing enabled
	le.PutUint16(w[3:], 50)
	le.PutUint16(w[5:], 1)
	le.PutUint32(w[7:], 16644)
	le.PutUint32(w[11:], 65536)
	le.PutUint32(w[19:], 0x8000f3fd)
	le.PutUint64(w[23:], filetimeNow())
	msg := append(h, 17)
	msg = append(msg, w...)
	msg = le.AppendUint16(msg, 16)
	return append(msg, labGUID[:]...)
}

// --- RDP (TPKT, X.224, RDP_NEG) ---

const (
	rdpSSL    = 1
	rdpHybrid = 2
)

// serveRDP answers one X.224 Connection Request. Both variants pick CredSSP (NLA) when
// offered; asked for TLS alone, the NLA variant fails with HYBRID_REQUIRED_BY_SERVER and
// the other accepts.
func serveRDP(e *env, c net.Conn) {
	h := make([]byte, 4)
	if _, err := io.ReadFull(c, h); err != nil || h[0] != 3 {
		return
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n < 11 || n > 1024 {
		return
	}
	x := make([]byte, n-4)
	if _, err := io.ReadFull(c, x); err != nil || x[1]&0xf0 != 0xe0 {
		return
	}
	var requested uint32
	hasNeg := false
	if len(x) >= 15 {
		neg := x[len(x)-8:]
		if neg[0] == 0x01 && binary.LittleEndian.Uint16(neg[2:]) == 8 {
			hasNeg, requested = true, binary.LittleEndian.Uint32(neg[4:])
		}
	}
	var neg []byte
	rsp := func(typ, flags byte, v uint32) []byte {
		return binary.LittleEndian.AppendUint32([]byte{typ, flags, 8, 0}, v)
	}
	switch {
	case requested&rdpHybrid != 0:
		neg = rsp(0x02, 0x1f, rdpHybrid)
	case e.kind == RDPNLA:
		neg = rsp(0x03, 0, 5) // HYBRID_REQUIRED_BY_SERVER
	case requested&rdpSSL != 0:
		neg = rsp(0x02, 0x01, rdpSSL)
	case hasNeg:
		neg = rsp(0x02, 0x01, 0) // standard RDP security
	}
	cc := append([]byte{byte(6 + len(neg)), 0xd0, x[4], x[5], 0x12, 0x34, 0}, neg...)
	out := append([]byte{3, 0, 0, 0}, cc...)
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	if _, err := c.Write(out); err != nil {
		return
	}
	drain(c)
}
