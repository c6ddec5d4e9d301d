package fingerprint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// session runs one request/response exchange under Limits. All reads go through it, so the
// byte cap and the deadline are enforced in one place: the cap counts every byte read on the
// connection (not just the current message) and the buffer never grows past it.
type session struct {
	ctx   context.Context
	conn  net.Conn
	max   int
	total int
	buf   []byte
	stop  func() bool
}

func begin(ctx context.Context, conn net.Conn, lim Limits) *session {
	lim = lim.withDefaults()
	deadline := time.Now().Add(lim.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	// Cancelling the context must interrupt a blocked read: moving the deadline into the
	// past does that for every net.Conn, without closing a connection the caller owns.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return &session{ctx: ctx, conn: conn, max: lim.MaxBytes, stop: stop}
}

func (s *session) end() { s.stop() }

func (s *session) write(p []byte) error {
	if _, err := s.conn.Write(p); err != nil {
		return s.wrap(fmt.Errorf("write request: %w", err))
	}
	return nil
}

// frameFunc reports how many bytes of buf make one complete message: 0 while more bytes are
// needed, or an error when buf can never become valid. atEOF is set when no more bytes will
// come (peer closed, time or byte limit reached) so that streams without a length, such as
// an HTTP body, can settle for what they have.
type frameFunc func(buf []byte, atEOF bool) (int, error)

// read returns the next complete message; bytes after it stay buffered for the next call.
func (s *session) read(frame frameFunc) ([]byte, error) {
	chunk := make([]byte, 4096)
	for {
		if len(s.buf) > 0 {
			n, err := frame(s.buf, false)
			if err != nil {
				return nil, err
			}
			if n > 0 && n <= len(s.buf) {
				msg := s.buf[:n:n]
				s.buf = s.buf[n:]
				return msg, nil
			}
		}
		room := s.max - s.total
		if room <= 0 {
			return s.settle(frame, fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.max))
		}
		if room < len(chunk) {
			chunk = chunk[:room]
		}
		n, err := s.conn.Read(chunk)
		s.total += n
		s.buf = append(s.buf, chunk[:n]...)
		if err != nil {
			return s.settle(frame, s.readError(err))
		}
	}
}

// settle gives the framer a last look at a partial buffer before reporting why it ended.
func (s *session) settle(frame frameFunc, cause error) ([]byte, error) {
	if len(s.buf) > 0 {
		n, err := frame(s.buf, true)
		if err == nil && n > 0 && n <= len(s.buf) {
			msg := s.buf[:n:n]
			s.buf = s.buf[n:]
			return msg, nil
		}
	}
	return nil, s.wrap(cause)
}

func (s *session) readError(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if s.total == 0 {
			return ErrNoResponse
		}
		return fmt.Errorf("%w: timed out after %d bytes", ErrIncomplete, s.total)
	case errors.Is(err, io.EOF):
		if s.total == 0 {
			return fmt.Errorf("%w: connection closed without data", ErrNoResponse)
		}
		return fmt.Errorf("%w: connection closed after %d bytes", ErrIncomplete, s.total)
	}
	return fmt.Errorf("read: %w", err)
}

// wrap prefers the context's error: a cancelled scan should say so, not "timed out".
func (s *session) wrap(err error) error {
	if cerr := s.ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// lineFrame completes at the first "\n". A line cut off by the byte cap or a close is not
// accepted: a greeting is short, and a peer streaming bytes without newlines is not one.
func lineFrame(buf []byte, atEOF bool) (int, error) {
	for i, b := range buf {
		if b == '\n' {
			return i + 1, nil
		}
	}
	return 0, nil
}
