package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// Access-token constants. The issuer and audience are fixed so that a token minted for some
// other purpose (or by another product sharing a key by mistake) is not accepted as ours.
const (
	TokenIssuer   = "tenantra"
	TokenAudience = "tenantra-api"
	// MaxTokenLen bounds what Verify will look at; real tokens are about 400 bytes.
	MaxTokenLen = 4 << 10
	// TokenLeeway absorbs clock differences between the appliance and itself across restarts
	// and between replicas; it is small next to the 15-minute default lifetime.
	TokenLeeway = 30 * time.Second
)

// signingMethod is the only algorithm Tenantra signs or accepts. Pinning it defeats
// "alg: none" and RS256/HS256 key confusion, whatever a token's header claims.
const signingMethod = "HS256"

// ErrTokenInvalid is the one error every token failure wraps (bad shape, signature, key,
// algorithm, time or claims). Clients get only this; the wrapped reason is for logs.
var ErrTokenInvalid = errors.New("invalid token")

// SigningKey is one HS256 key for access tokens. ID goes into the token's kid header, so it is
// public; Secret is 32 bytes from the keyring and never prints.
type SigningKey struct {
	ID     string
	Secret keys.Key
}

// Claims are the claims of a Tenantra access token: the registered claims, with Subject the
// user id, and the id of the login session the token belongs to, so that revoking the session
// can be checked and audited.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Issuer mints and verifies access tokens. Keys[0] signs; every key in Keys verifies, so a
// rotation adds the new key first and keeps the old one until the last token it signed has
// expired (TTL), and nobody is logged out. An Issuer is safe for concurrent use as long as its
// fields are not changed while in use; build a new one to rotate.
type Issuer struct {
	Keys []SigningKey
	// TTL is the lifetime of an access token.
	TTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Issue returns a signed access token for the user and session, and its expiry.
func (i *Issuer) Issue(userID, sessionID string) (token string, exp time.Time, err error) {
	if err := i.validate(); err != nil {
		return "", time.Time{}, err
	}
	if userID == "" || sessionID == "" {
		return "", time.Time{}, store.Errorf(store.ErrInvalid,
			"access token needs a user id and a session id")
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	// JWT times have whole seconds; truncating here makes exp what the token says.
	now := i.now().Truncate(time.Second)
	exp = now.Add(i.TTL)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		SessionID: sessionID,
	}
	key := i.Keys[0]
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = key.ID
	// keys.Key is a named type; the HMAC method accepts only a plain []byte.
	token, err = t.SignedString([]byte(key.Secret))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, exp, nil
}

// Verify checks an access token and returns its claims. It accepts only HS256 tokens whose
// kid names one of Keys, with a valid signature, issuer TokenIssuer, audience TokenAudience,
// an unexpired exp, nbf and iat not in the future (within TokenLeeway), and non-empty sub,
// sid and jti. Every failure wraps ErrTokenInvalid.
func (i *Issuer) Verify(token string) (*Claims, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, MaxTokenLen)
	}
	if err := i.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{signingMethod}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(TokenLeeway),
		jwt.WithTimeFunc(i.now),
		// Strict base64 gives every token exactly one spelling, so a token is valid only as
		// issued, never with its spare signature bits flipped.
		jwt.WithStrictDecoding(),
	)
	var claims Claims
	if _, err := parser.ParseWithClaims(token, &claims, i.key); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTokenInvalid, tokenFailure(err))
	}
	if claims.Subject == "" || claims.SessionID == "" || claims.ID == "" ||
		claims.IssuedAt == nil {
		return nil, fmt.Errorf("%w: missing sub, sid, jti or iat", ErrTokenInvalid)
	}
	return &claims, nil
}

// errUnknownKey is returned by the key lookup when the kid is missing or not in Keys (a
// forged token, or one signed by a key that has been retired).
var errUnknownKey = errors.New("unknown or missing kid")

// key finds the verification key named by the token's kid header.
func (i *Issuer) key(t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errUnknownKey
	}
	for _, k := range i.Keys {
		if k.ID == kid {
			return []byte(k.Secret), nil
		}
	}
	return nil, errUnknownKey
}

// tokenFailure names why the jwt library refused a token, as a fixed phrase: the library's
// own messages can quote header fields an attacker chose, which do not belong in logs.
func tokenFailure(err error) string {
	switch {
	case errors.Is(err, errUnknownKey):
		return "unknown or missing kid"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature or algorithm"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong issuer or audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing required claim"
	default:
		return "unverifiable"
	}
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// validate checks the issuer's configuration, so that a wiring mistake (no keys, a short
// secret, two keys with one id) fails loudly instead of minting weak tokens.
func (i *Issuer) validate() error {
	if i == nil || len(i.Keys) == 0 {
		return store.Errorf(store.ErrInvalid, "token issuer has no signing keys")
	}
	if i.TTL <= 0 {
		return store.Errorf(store.ErrInvalid, "token lifetime must be positive")
	}
	for n, k := range i.Keys {
		if k.ID == "" || len(k.Secret) != keys.KeySize {
			return store.Errorf(store.ErrInvalid,
				"signing key %d needs an id and a %d-byte secret", n, keys.KeySize)
		}
		for _, other := range i.Keys[:n] {
			if other.ID == k.ID {
				return store.Errorf(store.ErrInvalid, "signing key id %q is used twice", k.ID)
			}
		}
	}
	return nil
}
