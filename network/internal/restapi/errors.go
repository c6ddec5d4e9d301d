package restapi

import (
	"errors"
	"io"
	"strings"
)

// CapReader returns r failing with tooLarge once more than limit bytes were read, instead
// of truncating silently as io.LimitReader would.
func CapReader(r io.Reader, limit int64, tooLarge error) io.Reader {
	return &cappedReader{r: r, left: limit, tooLarge: tooLarge}
}

type cappedReader struct {
	r        io.Reader
	left     int64
	tooLarge error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Probe one byte: a body of exactly the limit is fine.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, c.tooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// Scrub is the last guard against a device that echoes a secret back into something an
// error quotes: when err's message contains one of secrets, it is replaced by an error with
// every such secret cut out that still matches those of sentinels err matched, but no
// longer unwraps to the original. Empty secrets are ignored.
func Scrub(err error, secrets []string, sentinels ...error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, Redacted)
			changed = true
		}
	}
	if !changed {
		return err
	}
	s := &scrubbedError{msg: msg}
	for _, sentinel := range sentinels {
		if errors.Is(err, sentinel) {
			s.sentinels = append(s.sentinels, sentinel)
		}
	}
	return s
}

type scrubbedError struct {
	msg       string
	sentinels []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.sentinels }

// Partial is a collection's error when some tables failed: one line naming each failure,
// matching sentinel (the collector's ErrPartial) and every table's own sentinel with
// errors.Is.
func Partial(sentinel error, errs []error) error {
	return &partialError{sentinel: sentinel, errs: errs}
}

type partialError struct {
	sentinel error
	errs     []error
}

func (e *partialError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return e.sentinel.Error() + ": " + strings.Join(msgs, "; ")
}

func (e *partialError) Unwrap() []error { return append([]error{e.sentinel}, e.errs...) }
