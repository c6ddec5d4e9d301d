package xtsvfs

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
)

// KeySize is the key length the VFS accepts: two AES-256 keys, one for the data and one for
// the tweak, as XTS-AES-256 (IEEE 1619, NIST SP 800-38E) defines them.
const KeySize = 64

// sectorSize is the XTS data unit: 512 bytes, the smallest SQLite page, as in ncruces'
// vfs/xts, so a database file written by either VFS reads the same.
const sectorSize = 512

// sectorCipher is XTS-AES over 512-byte sectors whose tweak is the sector number (the file
// offset divided by 512), byte-for-byte the construction of golang.org/x/crypto/xts that
// ncruces' VFS uses (the tests compare the two). It is our own loop over crypto/aes, not
// x/crypto/xts, because that package XORs and doubles the tweak a byte at a time and takes a
// sync.Pool buffer per call, about a quarter of its time for a 4 KiB page; the AES block
// calls, which are the rest, are the same. It works in place and keeps no state between
// calls, so one cipher serves every connection of a database.
type sectorCipher struct {
	data, tweak cipher.Block
}

var errKeySize = errors.New("xtsvfs: the key must be 64 bytes (AES-256-XTS)")

func newSectorCipher(key []byte) (*sectorCipher, error) {
	if len(key) != KeySize {
		return nil, errKeySize
	}
	data, err := aes.NewCipher(key[:KeySize/2])
	if err != nil {
		return nil, err
	}
	tweak, err := aes.NewCipher(key[KeySize/2:])
	if err != nil {
		return nil, err
	}
	return &sectorCipher{data: data, tweak: tweak}, nil
}

// encrypt encrypts buf in place; len(buf) is a multiple of sectorSize and its first byte is
// the start of sector number first.
func (c *sectorCipher) encrypt(buf []byte, first uint64) {
	for i := 0; i < len(buf); i += sectorSize {
		c.sector(buf[i:i+sectorSize:i+sectorSize], first, false)
		first++
	}
}

// decrypt is the inverse of encrypt.
func (c *sectorCipher) decrypt(buf []byte, first uint64) {
	for i := 0; i < len(buf); i += sectorSize {
		c.sector(buf[i:i+sectorSize:i+sectorSize], first, true)
		first++
	}
}

// sector applies XTS to one sector: each 16-byte block j becomes
// block(b ⊕ T·αʲ) ⊕ T·αʲ with T = AES(tweak key, sector number, little-endian).
func (c *sectorCipher) sector(s []byte, num uint64, decrypt bool) {
	var t [16]byte
	binary.LittleEndian.PutUint64(t[:8], num)
	c.tweak.Encrypt(t[:], t[:])
	lo, hi := binary.LittleEndian.Uint64(t[:8]), binary.LittleEndian.Uint64(t[8:])
	for j := 0; j+16 <= len(s); j += 16 {
		b := s[j : j+16 : j+16]
		binary.LittleEndian.PutUint64(b[:8], binary.LittleEndian.Uint64(b[:8])^lo)
		binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^hi)
		if decrypt {
			c.data.Decrypt(b, b)
		} else {
			c.data.Encrypt(b, b)
		}
		binary.LittleEndian.PutUint64(b[:8], binary.LittleEndian.Uint64(b[:8])^lo)
		binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^hi)
		// Multiply the tweak by α in GF(2¹²⁸): shift left one bit (little-endian), and on
		// a carry out of bit 127 reduce by x¹²⁸ = x⁷ + x² + x + 1.
		carry := hi >> 63
		hi = hi<<1 | lo>>63
		lo = lo<<1 ^ carry*0x87
	}
}
