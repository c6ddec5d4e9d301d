package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/tenantra/tenantra/store"
)

// Recovery codes are 16 characters of Crockford base32 (80 bits), shown as xxxx-xxxx-xxxx-xxxx.
// 80 bits is what lets them be stored as plain SHA-256: the hashes are unsalted, so one
// brute-force sweep would attack every stored code at once, and 80 bits (unlike the 50 of a
// 10-character code) keeps that sweep out of reach of any attacker. Crockford's alphabet has
// no I, L, O or U, so codes read aloud or copied by hand are forgiving (see normalise).
const (
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryChars    = 16
	recoveryGroup    = 4
	maxRecoveryCodes = 100
	maxRecoveryInput = 64 // bytes; longer input is not a code
)

// DefaultRecoveryCodes is how many recovery codes an MFA enrolment hands out.
const DefaultRecoveryCodes = 10

// NewRecoveryCodes returns n fresh single-use recovery codes to show the user once, and their
// hashes (HashRecoveryCode) to store in the same order.
func NewRecoveryCodes(n int) (plain []string, hashes [][]byte, err error) {
	if n < 1 || n > maxRecoveryCodes {
		return nil, nil, store.Errorf(store.ErrInvalid,
			"number of recovery codes must be 1-%d, got %d", maxRecoveryCodes, n)
	}
	seen := make(map[string]bool, n)
	buf := make([]byte, recoveryChars)
	for len(plain) < n {
		if _, err := rand.Read(buf); err != nil {
			return nil, nil, fmt.Errorf("generate recovery code: %w", err)
		}
		var b strings.Builder
		for i, c := range buf {
			if i > 0 && i%recoveryGroup == 0 {
				b.WriteByte('-')
			}
			// 256 is a multiple of 32, so masking keeps every character equally likely.
			b.WriteByte(recoveryAlphabet[c&31])
		}
		code := b.String()
		if seen[code] {
			continue // a collision in 80 bits will not happen, but costs nothing to rule out
		}
		seen[code] = true
		plain = append(plain, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return plain, hashes, nil
}

// HashRecoveryCode returns the SHA-256 of the normalised code. Recovery codes are random with
// 80 bits of entropy, so a fast hash is safe here and bcrypt's cost would only slow logins;
// passwords, chosen by people, are the ones that need a slow hash.
func HashRecoveryCode(code string) []byte {
	sum := sha256.Sum256([]byte(normaliseRecovery(code)))
	return sum[:]
}

// MatchRecoveryCode finds code among stored hashes. It compares against every hash in constant
// time, so the time taken does not reveal which (or whether a) code matched; the caller
// deletes hashes[index] so that the code works only once. Entries that are nil (spent codes)
// never match.
func MatchRecoveryCode(code string, hashes [][]byte) (index int, ok bool) {
	if len(code) > maxRecoveryInput || len(normaliseRecovery(code)) != recoveryChars {
		return -1, false
	}
	h := HashRecoveryCode(code)
	found := 0
	index = -1
	for i, want := range hashes {
		eq := subtle.ConstantTimeCompare(h, want)
		// Record the first match without branching on secret data.
		first := eq & (1 - found)
		index = subtle.ConstantTimeSelect(first, i, index)
		found |= eq
	}
	return index, found == 1
}

// normaliseRecovery maps what a person might type to the canonical code: case, dashes and
// spaces do not matter, and O, I and L read as 0, 1 and 1. Characters outside the alphabet are
// kept, so such input simply matches nothing.
func normaliseRecovery(code string) string {
	var b strings.Builder
	b.Grow(recoveryChars)
	for _, r := range strings.ToLower(code) {
		switch r {
		case '-', ' ':
			continue
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		b.WriteRune(r)
	}
	return b.String()
}
