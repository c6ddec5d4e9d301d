package ldap

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// The fuzz targets feed server bytes to every decoder: none may panic, and the binary ones
// must round-trip what they accept.

func FuzzDecodeSID(f *testing.F) {
	for _, s := range []string{"S-1-5-21-2231798228-739168149-3343836522-512", "S-1-5-32-544",
		"S-1-1-0", "S-1-0xFFFFFFFFFFFF-7"} {
		b, _ := EncodeSID(s)
		f.Add(b)
	}
	f.Add([]byte{1, 15})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSID(b)
		if err != nil {
			return
		}
		back, err := EncodeSID(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%x -> %s -> %x, %v", b, s, back, err)
		}
		_ = RID(s)
	})
}

func FuzzEncodeSID(f *testing.F) {
	f.Add("S-1-5-21-1-2-3-500")
	f.Add("S-1-0x1-2")
	f.Add("S--1")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := EncodeSID(s)
		if err != nil {
			return
		}
		if _, err := DecodeSID(b); err != nil {
			t.Fatalf("%q encodes to undecodable %x", s, b)
		}
		_ = RID(s)
	})
}

func FuzzDecodeGUID(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0xab}, 16))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeGUID(b)
		if err == nil && len(s) != 36 {
			t.Fatalf("%x -> %q", b, s)
		}
	})
}

func FuzzDecodeTimes(f *testing.F) {
	for _, s := range []string{"133497504000000000", "0", "9223372036854775807",
		"-9223372036854775808", "20240102030405.0Z", "20240102050405+0200", "-36288000000000",
		"\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ft := DecodeFileTime(s)
		if !ft.IsZero() {
			if back := DecodeFileTime(itoa(EncodeFileTime(ft))); !back.Equal(ft) {
				t.Fatalf("%q -> %v -> %v", s, ft, back)
			}
		}
		_ = DecodeGeneralizedTime(s)
		i := DecodeInterval(s)
		if i.Units < 0 || i.Days() < 0 || i.Minutes() < -1 {
			t.Fatalf("%q -> %+v", s, i)
		}
		_ = atoi(s)
		if !utf8.ValidString(CleanString(s)) {
			t.Fatalf("CleanString(%q) invalid", s)
		}
	})
}

func FuzzParsePin(f *testing.F) {
	f.Add("sha256//CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo=")
	f.Add("0a0a")
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := parsePin(s); err == nil && len(b) != 32 {
			t.Fatalf("%q -> %d bytes", s, len(b))
		}
	})
}
