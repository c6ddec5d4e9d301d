package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	_ "embed" // common-passwords.txt
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/tenantra/tenantra/store"
)

// BcryptCost is the bcrypt work factor of new password hashes (a few hundred milliseconds on
// one core), the floor issue 3 sets; raise it here and NeedsRehash upgrades hashes at the next
// login.
const BcryptCost = 12

// Password length limits, in characters (runes) after NFKC normalisation. The maximum bounds
// the work one request can cause; it is far beyond any passphrase a person types.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// preHashKey domain-separates the pre-hash, and its version suffix lets the scheme change
// later without ambiguity.
const preHashKey = "tenantra-password-v1"

// dummyHash is a bcrypt hash (cost BcryptCost) of a random value nobody knows. DummyCheck
// compares against it so that an unknown account costs as much as a known one.
const dummyHash = "$2a$12$pVVec2k3epRqQt74/g8CXOY3S5Pp.YGTSCAtb2KZPS6dsO/AMecWy"

// zxcvbnMaxRunes bounds the part of a password that zxcvbn scores. Its matchers are quadratic
// or worse in the length (a 256-character l33t string takes about half a second), so one
// request could otherwise burn a core; a 64-character prefix that scores well is strong.
const zxcvbnMaxRunes = 64

// Bounds on the hints passed to zxcvbn, which come from user-supplied profile fields.
const (
	maxUserInputs   = 16
	maxUserInputLen = 256
)

// breachedSuffixMax is the longest run of digits or symbols that may follow a dictionary
// password and still count as that password ("Password2024!" is "password").
const breachedSuffixMax = 6

//go:embed common-passwords.txt
var commonPasswordsFile string

// preHash turns a password of any length into 44 ASCII bytes for bcrypt. bcrypt silently
// ignores everything past 72 bytes, so two long passphrases sharing a prefix would otherwise
// be the same password; HMAC-SHA256 keeps every byte significant. Base64 keeps the input free
// of NUL bytes, which some bcrypt implementations treat as the end of the string. NFKC first,
// so the same characters typed on different systems (composed or decomposed accents,
// full-width forms) are the same password, as NIST SP 800-63B recommends.
func preHash(pw string) []byte {
	mac := hmac.New(sha256.New, []byte(preHashKey))
	mac.Write([]byte(norm.NFKC.String(pw)))
	sum := mac.Sum(nil)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum)
	return out
}

// HashPassword returns the bcrypt hash (cost BcryptCost) of the pre-hashed password, ready to
// store. It does not judge the password: call ValidatePassword first where a person chose it.
func HashPassword(pw string) (string, error) {
	return hashPassword(pw, BcryptCost)
}

// hashPassword is HashPassword at any cost, so that tests of everything but the cost stay fast.
func hashPassword(pw string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword(preHash(pw), cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches a hash made by HashPassword. The comparison is
// constant-time; a malformed hash never matches.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), preHash(pw)) == nil
}

// DummyCheck spends the time of one CheckPassword and discards the result. Login calls it when
// the account does not exist, so the response time does not reveal which emails have accounts.
func DummyCheck(pw string) {
	_ = CheckPassword(dummyHash, pw)
}

// Passwords hashes and checks passwords at one bcrypt cost. The appliance uses BcryptCost;
// its own tests use a lower one, because bcrypt under the race detector takes seconds.
type Passwords struct {
	cost  int
	dummy string
}

// NewPasswords returns a Passwords at cost, which bcrypt must accept (4 to 31). Its dummy
// hash has the same cost, so a check against an unknown account takes as long as a real one.
func NewPasswords(cost int) (*Passwords, error) {
	if cost == BcryptCost {
		return &Passwords{cost: cost, dummy: dummyHash}, nil
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is out of range %d-%d", cost, bcrypt.MinCost,
			bcrypt.MaxCost)
	}
	dummy, err := hashPassword("dummy password nobody knows", cost)
	if err != nil {
		return nil, err
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// Hash is HashPassword at this Passwords' cost.
func (p *Passwords) Hash(pw string) (string, error) { return hashPassword(pw, p.cost) }

// Check is CheckPassword.
func (p *Passwords) Check(hash, pw string) bool { return CheckPassword(hash, pw) }

// Dummy is DummyCheck at this Passwords' cost.
func (p *Passwords) Dummy(pw string) { _ = CheckPassword(p.dummy, pw) }

// NeedsRehash reports whether a stored hash was made with a lower cost than BcryptCost (or
// cannot be read), so that login can replace it while it holds the plaintext.
func NeedsRehash(hash string) bool {
	cost, err := bcrypt.Cost([]byte(hash))
	return err != nil || cost < BcryptCost
}

// ValidatePassword checks a password someone chose: MinPasswordLen to MaxPasswordLen
// characters of valid UTF-8 without control characters, not a breached or product-default
// password (with simple variations), not built on userInputs (email, name), and a zxcvbn
// strength score of at least 3. Errors wrap store.ErrInvalid, say what to do, and never
// contain the password.
func ValidatePassword(pw string, userInputs ...string) error {
	// Cheap checks first, and a byte bound before anything walks the whole string.
	if len(pw) > MaxPasswordLen*utf8.UTFMax {
		return store.Errorf(store.ErrInvalid,
			"password must be at most %d characters", MaxPasswordLen)
	}
	if !utf8.ValidString(pw) {
		return store.Errorf(store.ErrInvalid, "password is not valid UTF-8 text")
	}
	pw = norm.NFKC.String(pw)
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return store.Errorf(store.ErrInvalid, "password must be at least %d characters; "+
			"a passphrase of several unrelated words is long and easy to remember",
			MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return store.Errorf(store.ErrInvalid,
			"password must be at most %d characters", MaxPasswordLen)
	}
	if strings.IndexFunc(pw, unicode.IsControl) >= 0 {
		return store.Errorf(store.ErrInvalid, "password must not contain control characters "+
			"(newlines, tabs, escape sequences)")
	}

	eval, truncated := pw, false
	if n > zxcvbnMaxRunes {
		eval, truncated = firstRunes(pw, zxcvbnMaxRunes), true
	}
	// zxcvbn has one list for caller hints; the person's own details and our product words
	// both go into it, and the matched word tells them apart afterwards.
	personal, product := userHints(userInputs), productWords()
	hints := slices.Concat(personal, product)
	res := zxcvbn.PasswordStrength(eval, hints)
	if !truncated {
		if dict, ok := wholeDictionaryMatch(eval, res.Sequence); ok {
			switch {
			case dict.DictionaryName == "passwords":
				return store.Errorf(store.ErrInvalid, "password is too common (found in "+
					"breached-password lists); choose a longer passphrase")
			case dict.DictionaryName != "user_inputs":
				// Another zxcvbn list (English words, names): the score decides.
			case slices.Contains(personal, dict.MatchedWord):
				return store.Errorf(store.ErrInvalid, "password must not be based on your "+
					"email address or name; choose a longer passphrase")
			case slices.Contains(product, dict.MatchedWord):
				return store.Errorf(store.ErrInvalid, "password is too common (it is a "+
					"product name or default account word); choose a longer passphrase")
			}
		}
	}
	if res.Score < 3 {
		return store.Errorf(store.ErrInvalid, "password is too easy to guess; choose a "+
			"longer passphrase of several unrelated words")
	}
	return nil
}

// wholeDictionaryMatch finds the dictionary entry a password consists of, if it is one: a
// single zxcvbn dictionary match from its first character (zxcvbn has already undone case,
// l33t and reversal), possibly repeated, followed by at most breachedSuffixMax digits or
// symbols — the ways people dress up a known password.
func wholeDictionaryMatch(pw string, seq []*match.Match) (*match.Match, bool) {
	if len(seq) == 0 {
		return nil, false
	}
	m := seq[0]
	dict := m
	if m.Pattern == "repeat" {
		if len(m.BaseMatches) != 1 {
			return nil, false
		}
		dict = m.BaseMatches[0]
		if dict.I != 0 || dict.J+1 < len(m.BaseToken) {
			return nil, false
		}
	}
	if dict.Pattern != "dictionary" || m.I != 0 || m.J < 0 || m.J+1 > len(pw) {
		return nil, false
	}
	tail := pw[m.J+1:]
	if len(tail) > breachedSuffixMax {
		return nil, false
	}
	for _, r := range tail {
		if r >= utf8.RuneSelf || !unicode.IsDigit(r) && !unicode.IsPunct(r) &&
			!unicode.IsSymbol(r) {
			return nil, false
		}
	}
	return dict, true
}

// userHints turns user inputs into zxcvbn hints: each input whole, an email's local part, and
// their words apart and run together, so that "alice.smith@example.com" also penalises
// "alice.smith", "alice", "smith", "alicesmith" and "example".
func userHints(inputs []string) []string {
	var out []string
	seen := map[string]bool{}
	var add func(in string)
	add = func(in string) {
		in = strings.ToLower(strings.TrimSpace(in))
		if in == "" || seen[in] {
			return
		}
		seen[in] = true
		out = append(out, in)
		if local, _, ok := strings.Cut(in, "@"); ok {
			add(local)
		}
		words := strings.FieldsFunc(in, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})
		for _, w := range words {
			if utf8.RuneCountInString(w) >= 3 && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
		if len(words) > 1 {
			add(strings.Join(words, ""))
		}
	}
	for i, in := range inputs {
		if i == maxUserInputs {
			break
		}
		if len(in) > maxUserInputLen {
			in = in[:maxUserInputLen]
		}
		add(in)
	}
	return out
}

// productWords parses the embedded list. It is parsed per call (a few microseconds, next to
// milliseconds of zxcvbn) so that the package holds no mutable state.
func productWords() []string {
	var out []string
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.ToLower(line))
	}
	return out
}

func firstRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
