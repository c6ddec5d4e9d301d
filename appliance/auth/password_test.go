package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantra/tenantra/store"
)

// testCost keeps bcrypt fast in tests of everything except the cost itself.
const testCost = bcrypt.MinCost

func TestHashPasswordRealCost(t *testing.T) {
	const pw = "correct horse battery staple"
	start := time.Now()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HashPassword at cost %d: %v", BcryptCost, time.Since(start))
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != BcryptCost {
		t.Fatalf("cost = %d, %v; want %d", cost, err, BcryptCost)
	}
	if strings.Contains(h, pw) {
		t.Fatal("hash contains the password")
	}
	if !CheckPassword(h, pw) {
		t.Fatal("CheckPassword rejected the right password")
	}
	if NeedsRehash(h) {
		t.Fatal("NeedsRehash true for a hash at BcryptCost")
	}
}

func TestCheckPassword(t *testing.T) {
	long := strings.Repeat("a", 72)
	cases := []struct {
		name, set, try string
		want           bool
	}{
		{"same", "Tr0ub4dor&3-horse", "Tr0ub4dor&3-horse", true},
		{"wrong", "Tr0ub4dor&3-horse", "Tr0ub4dor&3-house", false},
		{"case matters", "Tr0ub4dor&3-horse", "tr0ub4dor&3-horse", false},
		{"empty try", "Tr0ub4dor&3-horse", "", false},
		// bcrypt alone ignores bytes past 72; the pre-hash must not.
		{"differs past 72 bytes", long + "x", long + "y", false},
		{"prefix of long", long + "x", long, false},
		{"very long same", strings.Repeat("pass phrase ", 1000), strings.Repeat("pass phrase ",
			1000), true},
		{"NUL inside", "abc\x00def-ghijkl", "abc", false},
		{"NUL same", "abc\x00def-ghijkl", "abc\x00def-ghijkl", true},
		// Composed and decomposed é, and full-width letters, are the same password (NFKC).
		{"NFC vs NFD", "caf\u00e9-au-lait-2024", "cafe\u0301-au-lait-2024", true},
		{"full-width", "ＡＢＣdef-ghijkl", "ABCdef-ghijkl", true},
		{"invalid UTF-8 same", "\xff\xfe-password-x", "\xff\xfe-password-x", true},
		{"invalid UTF-8 other", "\xff\xfe-password-x", "\xfe\xff-password-x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := hashPassword(c.set, testCost)
			if err != nil {
				t.Fatal(err)
			}
			if got := CheckPassword(h, c.try); got != c.want {
				t.Fatalf("CheckPassword = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCheckPasswordMalformedHash(t *testing.T) {
	for _, h := range []string{"", "x", "$2a$12$", "$2a$99$" + strings.Repeat("a", 53),
		strings.Repeat("$", 1<<16), "\x00"} {
		if CheckPassword(h, "anything") {
			t.Errorf("malformed hash %q matched", h)
		}
		if !NeedsRehash(h) {
			t.Errorf("NeedsRehash(%q) = false for a malformed hash", h)
		}
	}
	low, err := hashPassword("whatever-password", testCost)
	if err != nil {
		t.Fatal(err)
	}
	if !NeedsRehash(low) {
		t.Error("NeedsRehash false for a low-cost hash")
	}
}

// TestDummyHashCost proves DummyCheck costs what a real check costs: its hash has the same
// work factor, which is what sets bcrypt's running time (BenchmarkDummyCheck and
// BenchmarkCheckPassword show it; timing here would be flaky and, under -race, slow).
func TestDummyHashCost(t *testing.T) {
	cost, err := bcrypt.Cost([]byte(dummyHash))
	if err != nil || cost != BcryptCost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", cost, err, BcryptCost)
	}
}

func TestValidatePassword(t *testing.T) {
	const (
		tooShort = "at least 12 characters"
		tooLong  = "at most 256 characters"
		breached = "too common (found in breached-password lists)"
		product  = "product name or default account word"
		personal = "based on your email address or name"
		weak     = "too easy to guess"
		control  = "control characters"
		utf      = "not valid UTF-8"
	)
	email := "alice.smith@example.com"
	cases := []struct {
		name, pw string
		inputs   []string
		want     string // substring of the error; "" means accepted
	}{
		{"passphrase", "correct horse battery staple", nil, ""},
		{"random", "vX9#qL2!mZ7@wR4$", nil, ""},
		{"long passphrase", strings.Repeat("tangerine obelisk ", 14), nil, ""},
		{"unicode passphrase", "грозный кот пьёт чай в 5 утра", nil, ""},
		{"emoji passphrase", "🦊 jumps over 🐢 near 🌋 lake", nil, ""},
		{"exactly 12 strong", "k7#Vq9!zR2@m", nil, ""},
		{"longer than zxcvbn window", "q8$Lm2!vT9" + strings.Repeat("x", 200), nil, ""},

		{"empty", "", nil, tooShort},
		{"11 chars", "k7#Vq9!zR2@", nil, tooShort},
		{"11 runes many bytes", strings.Repeat("é", 11), nil, tooShort},
		{"decomposed counts once", strings.Repeat("e\u0301", 11), nil, tooShort},
		{"257 runes", strings.Repeat("ab", 128) + "c", nil, tooLong},
		{"megabyte", strings.Repeat("x", 1<<20), nil, tooLong},
		{"invalid UTF-8", "valid-prefix-\xff\xfe-more", nil, utf},
		{"newline", "correct horse\nbattery staple", nil, control},
		{"NUL", "correct horse\x00battery staple", nil, control},
		{"escape", "correct horse\x1b[31mbattery", nil, control},
		{"DEL", "correct horse\x7fbattery staple", nil, control},
		{"C1", "correct horse\u0085battery staple", nil, control},

		{"breached exact", "qwerty123456", nil, breached},
		{"breached phrase", "leavemealone", nil, breached},
		{"breached keyboard", "1qaz2wsx3edc", nil, breached},
		{"breached upper", "LEAVEMEALONE", nil, breached},
		{"breached suffix", "Password2024!", nil, breached},
		{"breached l33t suffix", "P@ssw0rd1234", nil, breached},
		{"breached repeated", "trustno1trustno1", nil, breached},
		{"breached reversed", "enolaemevael", nil, breached},

		{"product", "tenantra1234", nil, product},
		{"product l33t", "T3n4ntr4!2024", nil, product},
		{"product admin", "Administrator1", nil, product},
		{"product compound", "tenantraadmin!", nil, product},

		{"email", email, []string{email}, personal},
		{"email local part", "alice.smith1", []string{email}, personal},
		{"email words joined", "AliceSmith12", []string{email}, personal},
		{"name plus digits", "Smithsonian99", []string{"", "  ", "Smithsonian"}, personal},

		{"repeated char", strings.Repeat("a", 20), nil, weak},
		{"sequence", "abcdefghijklmnop", nil, weak},
		{"digits", "123456789012", nil, breached},
		{"season year", "Summer2024!!", nil, breached},
		{"dictionary pair", "monkeydragon1", nil, weak},
		{"keyboard walk", "qwertyuiopasdf", nil, weak},
		{"reversed sequence", "zyxwvutsrqponm", nil, weak},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidatePassword(c.pw, c.inputs...)
			if c.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want error containing %q", c.want)
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error %v does not wrap store.ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
			if c.pw != "" && strings.Contains(msg, c.pw) {
				t.Errorf("error %q contains the password", msg)
			}
			if !utf8.ValidString(msg) || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q is not lowercase valid UTF-8", msg)
			}
		})
	}
}

// TestValidatePasswordHostileCost bounds the work of the worst inputs for zxcvbn (l33t-heavy,
// repetitive, many hints) at the maximum length: they must stay well below a second.
func TestValidatePasswordHostileCost(t *testing.T) {
	hints := make([]string, 1000)
	for i := range hints {
		hints[i] = strings.Repeat("h1nt", 1000)
	}
	for _, pw := range []string{
		strings.Repeat("1|7!+$@4(3%2608", 18)[:MaxPasswordLen],
		strings.Repeat("a", MaxPasswordLen),
		strings.Repeat("19992000", 32),
		strings.Repeat("qazwsx", 42),
	} {
		start := time.Now()
		_ = ValidatePassword(pw, hints...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("ValidatePassword took %v on a %d-byte hostile input", d, len(pw))
		}
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		CheckPassword(h, "correct horse battery stapler")
	}
}

func BenchmarkDummyCheck(b *testing.B) {
	for b.Loop() {
		DummyCheck("correct horse battery stapler")
	}
}

func BenchmarkValidatePassword(b *testing.B) {
	for b.Loop() {
		_ = ValidatePassword("correct horse battery staple", "alice@example.com")
	}
}

// TestProductWords keeps the embedded list usable: lowercase single words, no repeats, small.
func TestProductWords(t *testing.T) {
	words := productWords()
	if len(words) == 0 || len(words) > 100 {
		t.Fatalf("%d product words; the list must be small and present", len(words))
	}
	seen := map[string]bool{}
	for _, w := range words {
		if w != strings.ToLower(w) || strings.ContainsAny(w, " \t") || seen[w] {
			t.Errorf("product word %q is not a unique lowercase word", w)
		}
		seen[w] = true
	}
}
