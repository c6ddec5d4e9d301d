package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/tenantra/tenantra/store"
)

// Prefixes of Tenantra's opaque tokens. A prefix says what a leaked string is (secret scanners
// match on it) and stops a token of one kind being presented as another.
const (
	RefreshTokenPrefix = "tnr_"
	APITokenPrefix     = "tna_"
)

// opaqueRandom is the entropy of an opaque token: 256 bits, so a token cannot be guessed and
// its SHA-256 can be stored without a slow hash.
const opaqueRandom = 32

const (
	// opaqueBodyLen is the length of unpadded base64url of opaqueRandom bytes.
	opaqueBodyLen = (opaqueRandom*8 + 5) / 6
	maxPrefixLen  = 16
)

// NewOpaqueToken returns a new token, prefix followed by base64url of 32 random bytes, to hand
// out once, and its hash (HashToken) to store. prefix is 1-16 characters of a-z, 0-9 and _,
// such as RefreshTokenPrefix or APITokenPrefix.
func NewOpaqueToken(prefix string) (token string, hash []byte, err error) {
	if !validPrefix(prefix) {
		return "", nil, store.Errorf(store.ErrInvalid,
			"token prefix must be 1-%d characters of a-z, 0-9 and _", maxPrefixLen)
	}
	raw := make([]byte, opaqueRandom)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("generate token: %w", err)
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(raw)
	return token, HashToken(token), nil
}

// HashToken returns the SHA-256 of a whole opaque token (prefix included), the value stored
// and looked up; the token itself is never stored.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// ParseOpaque checks that token has the given prefix and exactly the shape NewOpaqueToken
// makes (length, base64url alphabet, canonical encoding), so that junk is turned away before
// any hashing or lookup. Failures wrap ErrTokenInvalid.
func ParseOpaque(prefix, token string) error {
	if !validPrefix(prefix) {
		return errors.New("parse opaque token: invalid prefix argument")
	}
	if len(token) != len(prefix)+opaqueBodyLen {
		return fmt.Errorf("%w: opaque token has the wrong length", ErrTokenInvalid)
	}
	if token[:len(prefix)] != prefix {
		return fmt.Errorf("%w: opaque token has the wrong prefix", ErrTokenInvalid)
	}
	body := token[len(prefix):]
	for i := 0; i < len(body); i++ {
		if !isBase64URL(body[i]) {
			return fmt.Errorf("%w: opaque token is not base64url", ErrTokenInvalid)
		}
	}
	// The last character carries 2 unused bits; strict decoding refuses them set, so each
	// token has exactly one spelling.
	var raw [opaqueRandom + 2]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(body)); err != nil ||
		n != opaqueRandom {
		return fmt.Errorf("%w: opaque token is not canonical base64url", ErrTokenInvalid)
	}
	return nil
}

func validPrefix(p string) bool {
	if p == "" || len(p) > maxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_'
}
