package fingerprint

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
)

// MongoInfo is what a MongoDB server tells an unauthenticated client: the hello reply
// (wire versions, replica set), buildInfo (version) and whether listDatabases is allowed.
type MongoInfo struct {
	MaxWireVersion  int64  `json:"max_wire_version"`
	MinWireVersion  int64  `json:"min_wire_version"`
	WritablePrimary bool   `json:"writable_primary"`
	SetName         string `json:"set_name,omitempty"`
	Router          bool   `json:"router,omitempty"` // mongos ("msg": "isdbgrid")
	Version         string `json:"version,omitempty"`
	// Access is "open" when listDatabases succeeded without credentials,
	// "auth-required" when it failed with Unauthorized, "unknown" otherwise.
	Access        string `json:"access"`
	DatabaseCount int    `json:"database_count,omitempty"`
	Error         string `json:"error,omitempty"`
}

// Request ids let the parser tell which reply answers what (responseTo).
const (
	mongoHelloID    = 1
	mongoBuildID    = 2
	mongoListDBID   = 3
	mongoIsMasterID = 4
	opMsg           = 2013
	opReply         = 1
	maxMongoMessage = 1 << 20
)

// mongoRequest builds an OP_MSG (MongoDB wire protocol) with one body section.
func mongoRequest(id int32, fields ...bsonField) []byte {
	b := make([]byte, 16, 128)
	binary.LittleEndian.PutUint32(b[4:], uint32(id))
	binary.LittleEndian.PutUint32(b[12:], opMsg)
	b = append(b, 0, 0, 0, 0, 0) // flagBits, section kind 0
	b = appendBSON(b, fields...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

func mongoFrame(buf []byte, _ bool) (int, error) {
	if len(buf) < 4 {
		return 0, nil
	}
	n := int(int32(binary.LittleEndian.Uint32(buf)))
	if n < 16 || n > maxMongoMessage {
		return 0, fmt.Errorf("%w: MongoDB message length %d", ErrMalformed, n)
	}
	if len(buf) < n {
		return 0, nil
	}
	return n, nil
}

// ParseMongoDB parses the replies captured after hello (or isMaster), buildInfo and
// listDatabases, in any order and any subset, each an OP_MSG or a legacy OP_REPLY.
func ParseMongoDB(captured []byte) (MongoInfo, error) {
	info := MongoInfo{Access: "unknown"}
	seen := false
	for len(captured) > 0 {
		n, err := mongoFrame(captured, true)
		if err != nil {
			return info, err
		}
		if n == 0 {
			return info, fmt.Errorf("%w: truncated MongoDB message", ErrMalformed)
		}
		msg := captured[:n]
		captured = captured[n:]
		doc, err := mongoReplyDoc(msg)
		if err != nil {
			return info, err
		}
		seen = true
		applyMongoReply(&info, int32(binary.LittleEndian.Uint32(msg[8:])), doc)
	}
	if !seen {
		return info, fmt.Errorf("%w: no MongoDB reply", ErrMalformed)
	}
	return info, nil
}

func mongoReplyDoc(msg []byte) (bsonDoc, error) {
	switch op := binary.LittleEndian.Uint32(msg[12:]); op {
	case opMsg:
		// flagBits (4), then sections; the body section (kind 0) holds the reply.
		b := msg[16:]
		if len(b) < 5 || b[4] != 0 {
			return nil, fmt.Errorf("%w: OP_MSG without a body section first", ErrMalformed)
		}
		doc, _, err := parseBSON(b[5:])
		return doc, err
	case opReply:
		// responseFlags (4), cursorID (8), startingFrom (4), numberReturned (4), documents.
		if len(msg) < 36 {
			return nil, fmt.Errorf("%w: short OP_REPLY", ErrMalformed)
		}
		doc, _, err := parseBSON(msg[36:])
		return doc, err
	default:
		return nil, fmt.Errorf("%w: MongoDB opcode %d", ErrMalformed, op)
	}
}

func applyMongoReply(info *MongoInfo, responseTo int32, doc bsonDoc) {
	ok, _ := bsonInt(doc.get("ok"))
	if ok != 1 {
		msg, _ := doc.get("errmsg").(string)
		code, _ := bsonInt(doc.get("code"))
		if responseTo == mongoListDBID {
			// 13 Unauthorized; older servers say "not authorized" with code 13 as well.
			if code == 13 {
				info.Access = "auth-required"
			}
		}
		if responseTo != mongoHelloID || info.Error == "" {
			info.Error = clean([]byte(strconv.FormatInt(code, 10) + " " + msg))
		}
		return
	}
	switch responseTo {
	case mongoHelloID, mongoIsMasterID:
		info.Error = ""
		info.MaxWireVersion, _ = bsonInt(doc.get("maxWireVersion"))
		info.MinWireVersion, _ = bsonInt(doc.get("minWireVersion"))
		wp, _ := doc.get("isWritablePrimary").(bool)
		im, _ := doc.get("ismaster").(bool)
		info.WritablePrimary = wp || im
		if s, ok := doc.get("setName").(string); ok {
			info.SetName = clean([]byte(s))
		}
		if s, _ := doc.get("msg").(string); s == "isdbgrid" {
			info.Router = true
		}
	case mongoBuildID:
		if s, ok := doc.get("version").(string); ok {
			info.Version = clean([]byte(s))
		}
	case mongoListDBID:
		info.Access = "open"
		if dbs, ok := doc.get("databases").([]any); ok {
			info.DatabaseCount = len(dbs)
		}
	}
}

// GrabMongoDB sends hello (falling back to isMaster on servers older than 4.4.2, which
// do not know hello), buildInfo, and listDatabases with nameOnly, each on admin. No
// credentials are sent: a successful listDatabases proves unauthenticated access.
func GrabMongoDB(ctx context.Context, conn net.Conn, lim Limits) (MongoInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	admin := bsonField{key: "$db", value: "admin"}
	var captured []byte
	ask := func(id int32, cmd string, extra ...bsonField) error {
		fields := append([]bsonField{{key: cmd, value: int32(1)}}, extra...)
		if err := s.write(mongoRequest(id, append(fields, admin)...)); err != nil {
			return err
		}
		msg, err := s.read(mongoFrame)
		if err != nil {
			return err
		}
		captured = append(captured, msg...)
		return nil
	}
	if err := ask(mongoHelloID, "hello"); err != nil {
		return MongoInfo{}, fmt.Errorf("mongodb: %w", err)
	}
	if info, err := ParseMongoDB(captured); err != nil || info.MaxWireVersion == 0 {
		if err := ask(mongoIsMasterID, "isMaster"); err != nil {
			return MongoInfo{}, fmt.Errorf("mongodb: %w", err)
		}
	}
	if err := ask(mongoBuildID, "buildInfo"); err != nil {
		return MongoInfo{}, fmt.Errorf("mongodb: %w", err)
	}
	if err := ask(mongoListDBID, "listDatabases",
		bsonField{key: "nameOnly", value: true}); err != nil {
		return MongoInfo{}, fmt.Errorf("mongodb: %w", err)
	}
	info, err := ParseMongoDB(captured)
	return named("mongodb", info, err)
}

// mongoReleases maps maxWireVersion to the release that introduced it, a version hint
// when buildInfo is refused.
var mongoReleases = map[int64]string{
	6: "3.6", 7: "4.0", 8: "4.2", 9: "4.4", 13: "5.0", 17: "6.0", 21: "7.0", 25: "8.0",
}

// Service converts the result for the asset record.
func (i MongoInfo) Service(port int) Service {
	s := newService(port, "mongodb")
	s.Product, s.Version = "MongoDB", i.Version
	s.Evidence["max_wire_version"] = strconv.FormatInt(i.MaxWireVersion, 10)
	s.Evidence["access"] = i.Access
	setEvidence(&s, "release_hint", mongoReleases[i.MaxWireVersion])
	setEvidence(&s, "set_name", i.SetName)
	setEvidence(&s, "error", i.Error)
	if i.Access == "open" {
		addFinding(&s, FindingMongoDBNoAuth)
	}
	return s
}
