package fingerprint

import (
	"encoding/binary"
	"fmt"
	"math"
)

// bsonDoc is a decoded BSON document (bsonspec.org, version 1.1), kept as an ordered list
// because only a few top-level fields are read and duplicates must not panic.
type bsonDoc []bsonField

type bsonField struct {
	key   string
	value any // float64, string, bsonDoc, []any, bool, int32, int64, nil, or bsonOther
}

// bsonOther stands for a value whose content is skipped (binary, ObjectId, dates, …).
type bsonOther byte

// maxBSONDepth bounds nesting, so a hostile reply cannot exhaust the stack.
const maxBSONDepth = 16

// maxBSONFields bounds the number of fields decoded in one document tree, so the work done
// on a reply is linear in its size with a small constant.
const maxBSONFields = 4096

type bsonReader struct{ fields int }

func (d bsonDoc) get(key string) any {
	for _, f := range d {
		if f.key == key {
			return f.value
		}
	}
	return nil
}

// parseBSON decodes one document at the start of b and returns its size.
func parseBSON(b []byte) (bsonDoc, int, error) {
	var r bsonReader
	return r.doc(b, 0)
}

func (r *bsonReader) doc(b []byte, depth int) (bsonDoc, int, error) {
	if depth > maxBSONDepth {
		return nil, 0, fmt.Errorf("%w: BSON nested too deep", ErrMalformed)
	}
	if len(b) < 5 {
		return nil, 0, fmt.Errorf("%w: short BSON document", ErrMalformed)
	}
	size := int(binary.LittleEndian.Uint32(b))
	if size < 5 || size > len(b) || b[size-1] != 0 {
		return nil, 0, fmt.Errorf("%w: BSON document size %d", ErrMalformed, size)
	}
	body := b[4 : size-1]
	var doc bsonDoc
	for len(body) > 0 {
		r.fields++
		if r.fields > maxBSONFields {
			return nil, 0, fmt.Errorf("%w: too many BSON fields", ErrMalformed)
		}
		typ := body[0]
		end := indexZero(body[1:])
		if end < 0 {
			return nil, 0, fmt.Errorf("%w: unterminated BSON key", ErrMalformed)
		}
		key := string(body[1 : 1+end])
		body = body[2+end:]
		v, n, err := r.value(typ, body, depth)
		if err != nil {
			if depth == 0 {
				err = fmt.Errorf("field %q: %w", clean([]byte(key)), err)
			}
			return nil, 0, err
		}
		body = body[n:]
		doc = append(doc, bsonField{key: key, value: v})
	}
	return doc, size, nil
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func (r *bsonReader) value(typ byte, b []byte, depth int) (any, int, error) {
	le := binary.LittleEndian
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("%w: truncated BSON value of type %#x", ErrMalformed, typ)
		}
		return nil
	}
	switch typ {
	case 0x01: // double
		if err := need(8); err != nil {
			return nil, 0, err
		}
		return math.Float64frombits(le.Uint64(b)), 8, nil
	case 0x02, 0x0d, 0x0e: // string, JavaScript code, symbol
		if err := need(4); err != nil {
			return nil, 0, err
		}
		n := int(int32(le.Uint32(b)))
		if n < 1 || n > len(b)-4 || b[4+n-1] != 0 {
			return nil, 0, fmt.Errorf("%w: BSON string length %d", ErrMalformed, n)
		}
		return string(b[4 : 4+n-1]), 4 + n, nil
	case 0x03, 0x04: // document, array (a document keyed "0", "1", …)
		d, n, err := r.doc(b, depth+1)
		if err != nil {
			return nil, 0, err
		}
		if typ == 0x03 {
			return d, n, nil
		}
		arr := make([]any, 0, len(d))
		for _, f := range d {
			arr = append(arr, f.value)
		}
		return arr, n, nil
	case 0x05: // binary: length, subtype, bytes
		if err := need(5); err != nil {
			return nil, 0, err
		}
		n := int(int32(le.Uint32(b)))
		if n < 0 || n > len(b)-5 {
			return nil, 0, fmt.Errorf("%w: BSON binary length %d", ErrMalformed, n)
		}
		return bsonOther(typ), 5 + n, nil
	case 0x06, 0x0a, 0x7f, 0xff: // undefined, null, max key, min key
		return nil, 0, nil
	case 0x07: // ObjectId
		return bsonOther(typ), 12, need(12)
	case 0x08:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return b[0] != 0, 1, nil
	case 0x09, 0x11: // UTC datetime, timestamp
		return bsonOther(typ), 8, need(8)
	case 0x10:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return int32(le.Uint32(b)), 4, nil
	case 0x12:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		return int64(le.Uint64(b)), 8, nil
	case 0x13: // decimal128
		return bsonOther(typ), 16, need(16)
	case 0x0b: // regex: two C strings
		i := indexZero(b)
		if i < 0 {
			return nil, 0, fmt.Errorf("%w: BSON regex", ErrMalformed)
		}
		j := indexZero(b[i+1:])
		if j < 0 {
			return nil, 0, fmt.Errorf("%w: BSON regex", ErrMalformed)
		}
		return bsonOther(typ), i + j + 2, nil
	}
	return nil, 0, fmt.Errorf("%w: BSON type %#x", ErrMalformed, typ)
}

// bsonInt reads a number field as an int, whichever numeric type the server chose.
func bsonInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n >= math.MinInt64 && n <= math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

// appendBSON encodes the few request documents the grabber sends: string, int32 and bool
// values, in the given order (a command name must come first).
func appendBSON(b []byte, fields ...bsonField) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, f := range fields {
		switch v := f.value.(type) {
		case string:
			b = append(b, 0x02)
			b = append(append(b, f.key...), 0)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)+1))
			b = append(append(b, v...), 0)
		case int32:
			b = append(b, 0x10)
			b = append(append(b, f.key...), 0)
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case bool:
			b = append(b, 0x08)
			b = append(append(b, f.key...), 0)
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	b = append(b, 0)
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}
