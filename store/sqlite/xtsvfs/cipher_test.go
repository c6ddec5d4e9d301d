package xtsvfs

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/xts"
)

// IEEE P1619/D16 Annex B, vector 10: XTS-AES-256, data unit 0xff, 512 bytes.
const (
	ieeeKey = "2718281828459045235360287471352662497757247093699959574966967627" +
		"3141592653589793238462643383279502884197169399375105820974944592"
	ieeeCiphertextPrefix = "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b" +
		"5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
	ieeeCiphertextSuffix = "b4c1550be97f7ab4066193c4caa773dad38014bd2092fa755c824bb5e54c4f36" +
		"ffda9fcea70b9c6e693e148c151"
)

func TestSectorCipherIEEEVector(t *testing.T) {
	key, _ := hex.DecodeString(ieeeKey)
	c, err := newSectorCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, sectorSize)
	for i := range buf {
		buf[i] = byte(i)
	}
	c.encrypt(buf, 0xff)
	got := hex.EncodeToString(buf)
	if got[:len(ieeeCiphertextPrefix)] != ieeeCiphertextPrefix ||
		got[len(got)-len(ieeeCiphertextSuffix):] != ieeeCiphertextSuffix {
		t.Fatalf("ciphertext %s…%s does not match the IEEE vector", got[:32],
			got[len(got)-32:])
	}
	c.decrypt(buf, 0xff)
	for i := range buf {
		if buf[i] != byte(i) {
			t.Fatalf("decrypt: byte %d is %#x", i, buf[i])
		}
	}
}

// TestSectorCipherMatchesXCrypto checks that files are byte-for-byte what ncruces' VFS
// (golang.org/x/crypto/xts over crypto/aes, 512-byte sectors) writes.
func TestSectorCipherMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sectors := range []int{1, 2, 8, 128} {
		key := make([]byte, KeySize)
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		ours, err := newSectorCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := xts.NewCipher(aes.NewCipher, key)
		if err != nil {
			t.Fatal(err)
		}
		plain := make([]byte, sectors*sectorSize)
		for i := range plain {
			plain[i] = byte(rng.Uint32())
		}
		first := rng.Uint64() >> 1
		want := make([]byte, len(plain))
		for s := range sectors {
			ref.Encrypt(want[s*sectorSize:(s+1)*sectorSize],
				plain[s*sectorSize:(s+1)*sectorSize], first+uint64(s))
		}
		got := bytes.Clone(plain)
		ours.encrypt(got, first)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d sectors from %d: ciphertext differs from x/crypto/xts", sectors,
				first)
		}
		ours.decrypt(got, first)
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d sectors: decrypt does not invert encrypt", sectors)
		}
	}
}

func TestSectorCipherKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 32, 48, 63, 65, 128} {
		if _, err := newSectorCipher(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted; only 64 bytes (AES-256-XTS) may be", n)
		}
	}
}

func BenchmarkSectorCipher(b *testing.B) {
	c, _ := newSectorCipher(make([]byte, KeySize))
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		c.encrypt(buf, 7)
	}
}

func BenchmarkXCryptoXTS(b *testing.B) {
	c, _ := xts.NewCipher(aes.NewCipher, make([]byte, KeySize))
	buf, out := make([]byte, 4096), make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for s := 0; s < len(buf); s += sectorSize {
			c.Encrypt(out[s:s+sectorSize], buf[s:s+sectorSize], uint64(7+s/sectorSize))
		}
	}
}
