package auth

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/store"
)

var recoveryRE = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)

func TestNewRecoveryCodes(t *testing.T) {
	plain, hashes, err := NewRecoveryCodes(DefaultRecoveryCodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != DefaultRecoveryCodes || len(hashes) != DefaultRecoveryCodes {
		t.Fatalf("got %d codes and %d hashes", len(plain), len(hashes))
	}
	seen := map[string]bool{}
	for i, p := range plain {
		if !recoveryRE.MatchString(p) {
			t.Errorf("code %q has the wrong shape", p)
		}
		if seen[p] {
			t.Errorf("code %q repeated", p)
		}
		seen[p] = true
		if !bytes.Equal(hashes[i], HashRecoveryCode(p)) || len(hashes[i]) != 32 {
			t.Errorf("hash %d does not match its code", i)
		}
		if idx, ok := MatchRecoveryCode(p, hashes); !ok || idx != i {
			t.Errorf("MatchRecoveryCode(code %d) = %d, %v", i, idx, ok)
		}
	}
	for _, n := range []int{0, -1, maxRecoveryCodes + 1, 1 << 40} {
		if _, _, err := NewRecoveryCodes(n); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("NewRecoveryCodes(%d) = %v, want ErrInvalid", n, err)
		}
	}
}

func TestMatchRecoveryCode(t *testing.T) {
	const code = "0a1b-2c3d-4e5f-6g7h"
	other := HashRecoveryCode("zzzz-zzzz-zzzz-zzzz")
	hashes := [][]byte{other, nil, HashRecoveryCode(code), HashRecoveryCode(code)}
	cases := []struct {
		name, in string
		want     int
	}{
		{"exact", code, 2},
		{"upper", strings.ToUpper(code), 2},
		{"no dashes", "0a1b2c3d4e5f6g7h", 2},
		{"spaces", "0a1b 2c3d 4e5f 6g7h", 2},
		{"surrounding", "  " + code + " ", 2},
		{"O for zero, I for one", "Oa Ib 2c3d 4e5f 6g7h", 2},
		{"l for one", "0alb-2c3d-4e5f-6g7h", 2},
		{"wrong", "0a1b-2c3d-4e5f-6g7j", -1},
		{"short", "0a1b-2c3d-4e5f-6g7", -1},
		{"long", code + "0", -1},
		{"empty", "", -1},
		{"only dashes", strings.Repeat("-", 40), -1},
		{"outside alphabet", "0a1b-2c3d-4e5f-6g7u", -1},
		{"invalid UTF-8", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0", -1},
		{"huge", strings.Repeat(code, 1<<14), -1},
		{"NUL", "0a1b-2c3d-4e5f-6g7\x00", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idx, ok := MatchRecoveryCode(c.in, hashes)
			if idx != c.want || ok != (c.want >= 0) {
				t.Fatalf("MatchRecoveryCode = %d, %v; want %d", idx, ok, c.want)
			}
		})
	}
	if idx, ok := MatchRecoveryCode(code, nil); ok || idx != -1 {
		t.Errorf("match against no hashes = %d, %v", idx, ok)
	}
	// A spent code (its hash removed) no longer matches.
	if _, ok := MatchRecoveryCode(code, [][]byte{other, nil}); ok {
		t.Error("spent code matched")
	}
}
