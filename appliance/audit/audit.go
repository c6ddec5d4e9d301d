// Package audit owns what the appliance puts into the audit trail before it reaches the
// store: the diff of a change with its secrets redacted. The chain itself (canonical
// encoding, hashing, verification) lives in package store, because every storage backend
// must compute identical hashes and the store may not import the appliance.
//
// Every mutating API call and admin command appends one store.AuditEvent — to the tenant's
// chain (sqlite TenantDB.Audit) when it acts in a tenant, to the platform chain
// (sqlite Store.PlatformAudit) otherwise — with Diff set by RedactDiff, never by marshalling
// the request directly, so that a password in a request body cannot reach the trail.
package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
)

// Redacted replaces the value of every secret-looking key in a diff.
const Redacted = "[redacted]"

// unencodable is the diff recorded when v cannot be marshalled: the event is still worth
// recording, and an error message could echo a secret value.
var unencodable = json.RawMessage(`"[unencodable diff]"`)

// RedactDiff marshals v to JSON and replaces the value of every object key that looks like
// it holds a secret (see IsSecretKey), at any depth and inside arrays, with "[redacted]".
// JSON nulls are kept, so that "unset" stays visible. v may already be JSON
// (json.RawMessage). Numbers keep their exact text. Object keys come out sorted, so the same
// change always gives the same bytes. A value that cannot be marshalled gives the JSON string
// "[unencodable diff]".
//
// Redaction goes by key name only: a diff must name fields as keys
// ({"password": {"old": …, "new": …}}), not as values ({"field": "password", "new": …}).
func RedactDiff(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return unencodable
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return unencodable
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(redact(tree)); err != nil {
		return unencodable
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x != nil && IsSecretKey(k) {
				v[k] = Redacted
			} else {
				v[k] = redact(x)
			}
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = redact(x)
		}
		return v
	default:
		return v
	}
}

// secretParts are matched anywhere in a key (case-insensitive, ignoring separators), because
// compounds such as "apiToken", "client_secret" or "snmpCommunity" are common.
var secretParts = []string{
	"password", "passwd", "passphrase", "secret", "token", "community", "totp", "recovery",
	"credential", "cookie", "authorization", "privatekey", "apikey", "signature",
}

// secretWords are matched only as whole words of a key, because as substrings they occur in
// harmless names ("footprint" contains "otp").
var secretWords = map[string]bool{"pwd": true, "otp": true, "pin": true, "dek": true,
	"kek": true, "psk": true, "hash": true}

// IsSecretKey reports whether an object key names a secret: it contains one of password,
// passwd, passphrase, secret, token, community, totp, recovery, credential, cookie,
// authorization, private key, api key or signature, ends in "key" ("apiKey", "master_key",
// "hexkey"), or has one of pwd, otp, pin, dek, kek, psk, hash as a word of its own.
// "key_version" and "keyring" are not secrets (a key's version is what an audit reader wants
// to see); elsewhere over-matching is preferred to a leak.
func IsSecretKey(k string) bool {
	words := splitWords(k)
	joined := strings.Join(words, "")
	for _, p := range secretParts {
		if strings.Contains(joined, p) {
			return true
		}
	}
	if strings.HasSuffix(joined, "key") || strings.HasSuffix(joined, "keys") {
		return true
	}
	for _, w := range words {
		if secretWords[w] {
			return true
		}
	}
	return false
}

// splitWords lowercases k and splits it at separators and camelCase boundaries:
// "apiKey_v2" → ["api", "key", "v2"].
func splitWords(k string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range k {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		cur = append(cur, unicode.ToLower(r))
	}
	flush()
	return words
}
