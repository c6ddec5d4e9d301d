package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/store"
)

func TestNewOpaqueToken(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{RefreshTokenPrefix, APITokenPrefix, "x", "a_b_c_0123456789"} {
		tok, hash, err := NewOpaqueToken(prefix)
		if err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		if !strings.HasPrefix(tok, prefix) || len(tok) != len(prefix)+43 {
			t.Errorf("token %q has the wrong shape", tok)
		}
		if !bytes.Equal(hash, HashToken(tok)) || len(hash) != 32 {
			t.Errorf("hash does not match token")
		}
		if err := ParseOpaque(prefix, tok); err != nil {
			t.Errorf("ParseOpaque of a fresh token: %v", err)
		}
		if seen[tok] {
			t.Errorf("token repeated")
		}
		seen[tok] = true
	}
	for _, prefix := range []string{"", "TNR_", "tn r_", "tnr-", "tnr_\n", "é",
		strings.Repeat("a", maxPrefixLen+1)} {
		if _, _, err := NewOpaqueToken(prefix); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("NewOpaqueToken(%q) = %v, want ErrInvalid", prefix, err)
		}
	}
}

func TestParseOpaque(t *testing.T) {
	tok, _, err := NewOpaqueToken(RefreshTokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	body := tok[len(RefreshTokenPrefix):]
	// The last character holds 2 spare bits; 'B' is 'A' with one of them set.
	canonical := RefreshTokenPrefix + body[:42] + "A"
	nonCanonical := RefreshTokenPrefix + body[:42] + "B"
	api, _, err := NewOpaqueToken(APITokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token string
		ok          bool
	}{
		{"fresh", tok, true},
		{"canonical last char", canonical, true},
		{"non-canonical last char", nonCanonical, false},
		{"other kind", api, false},
		{"prefix swapped", APITokenPrefix + body, false},
		{"no prefix", body, false},
		{"upper prefix", "TNR_" + body, false},
		{"short", tok[:len(tok)-1], false},
		{"long", tok + "A", false},
		{"empty", "", false},
		{"prefix only", RefreshTokenPrefix, false},
		{"padding", tok[:len(tok)-1] + "=", false},
		{"std alphabet plus", tok[:10] + "+" + tok[11:], false},
		{"std alphabet slash", tok[:10] + "/" + tok[11:], false},
		{"space", tok[:10] + " " + tok[11:], false},
		{"NUL", tok[:10] + "\x00" + tok[11:], false},
		{"non-ASCII same bytes", tok[:9] + "é" + tok[11:], false},
		{"huge", tok + strings.Repeat("A", 1<<20), false},
		{"JWT-looking", "eyJhbGciOiJIUzI1NiJ9.e30.abc", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ParseOpaque(RefreshTokenPrefix, c.token)
			if c.ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
			if c.token != "" && strings.Contains(err.Error(), c.token) {
				t.Fatalf("error %q contains the token", err)
			}
		})
	}
	if err := ParseOpaque("", tok); err == nil || errors.Is(err, ErrTokenInvalid) {
		t.Errorf("invalid prefix argument: %v", err)
	}
}

func TestHashToken(t *testing.T) {
	a, b := HashToken("tnr_a"), HashToken("tnr_b")
	if bytes.Equal(a, b) || !bytes.Equal(a, HashToken("tnr_a")) || len(a) != 32 {
		t.Fatal("HashToken is not a deterministic 32-byte hash")
	}
}
