package fingerprint

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// RedisInfo is what a Redis server answers to PING and, when PING works without a
// password, to INFO server.
type RedisInfo struct {
	AuthRequired bool   `json:"auth_required"`
	Ping         string `json:"ping"` // the first reply line: "+PONG", "-NOAUTH …", …
	Version      string `json:"version,omitempty"`
	Mode         string `json:"mode,omitempty"` // standalone, cluster, sentinel
	OS           string `json:"os,omitempty"`
	Protected    bool   `json:"protected_mode,omitempty"` // refused with -DENIED
}

// RESP requests (Redis serialization protocol, arrays of bulk strings).
const (
	redisPing = "*1\r\n$4\r\nPING\r\n"
	redisInfo = "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"
)

// maxRedisBulk bounds the INFO reply accepted: "INFO server" is about 1 KiB.
const maxRedisBulk = 64 << 10

// redisFrame completes a simple reply ("+", "-", ":") at its line end, or a bulk string
// ("$n\r\n…\r\n") once its n bytes have arrived.
func redisFrame(buf []byte, _ bool) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	if !bytes.ContainsRune([]byte("+-:$"), rune(buf[0])) {
		return 0, fmt.Errorf("%w: not a RESP reply", ErrMalformed)
	}
	i := bytes.Index(buf, []byte("\r\n"))
	if i < 0 {
		return 0, nil
	}
	if buf[0] != '$' {
		return i + 2, nil
	}
	n, err := strconv.Atoi(string(buf[1:i]))
	if err != nil || n > maxRedisBulk {
		return 0, fmt.Errorf("%w: bulk length %q", ErrMalformed, buf[1:i])
	}
	if n < 0 { // null bulk string
		return i + 2, nil
	}
	if len(buf) < i+2+n+2 {
		return 0, nil
	}
	return i + 2 + n + 2, nil
}

// ParseRedis parses the PING reply, optionally followed by the INFO server reply.
func ParseRedis(captured []byte) (RedisInfo, error) {
	n, err := redisFrame(captured, true)
	if err != nil {
		return RedisInfo{}, err
	}
	if n == 0 {
		return RedisInfo{}, fmt.Errorf("%w: truncated RESP reply", ErrMalformed)
	}
	line := bytes.TrimRight(captured[:n], "\r\n")
	info := RedisInfo{Ping: clean(line)}
	switch {
	case bytes.Equal(line, []byte("+PONG")):
	case bytes.HasPrefix(line, []byte("-NOAUTH")),
		bytes.HasPrefix(line, []byte("-WRONGPASS")):
		info.AuthRequired = true
		return info, nil
	case bytes.HasPrefix(line, []byte("-DENIED")):
		// Protected mode: no password set, but only loopback clients are served.
		info.Protected = true
		return info, nil
	default:
		return info, fmt.Errorf("%w: unexpected PING reply", ErrMalformed)
	}
	rest := captured[n:]
	if len(rest) == 0 {
		return info, nil
	}
	m, err := redisFrame(rest, true)
	if err != nil || m == 0 || rest[0] != '$' {
		return info, nil // INFO may be renamed or refused; PING already told the story
	}
	start := bytes.Index(rest, []byte("\r\n")) + 2
	if m < start+2 {
		return info, nil // null bulk string
	}
	body := rest[start : m-2]
	for _, l := range bytes.Split(body, []byte("\n")) {
		k, v, ok := strings.Cut(strings.TrimRight(string(l), "\r"), ":")
		if !ok {
			continue
		}
		switch k {
		case "redis_version":
			info.Version = clean([]byte(v))
		case "redis_mode":
			info.Mode = clean([]byte(v))
		case "os":
			info.OS = clean([]byte(v))
		}
	}
	return info, nil
}

// GrabRedis sends PING and, when it is answered without authentication, INFO server.
func GrabRedis(ctx context.Context, conn net.Conn, lim Limits) (RedisInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	if err := s.write([]byte(redisPing)); err != nil {
		return RedisInfo{}, fmt.Errorf("redis: %w", err)
	}
	pong, err := s.read(redisFrame)
	if err != nil {
		return RedisInfo{}, fmt.Errorf("redis: %w", err)
	}
	captured := bytes.Clone(pong)
	if bytes.HasPrefix(pong, []byte("+PONG")) {
		if err := s.write([]byte(redisInfo)); err == nil {
			if msg, err := s.read(redisFrame); err == nil {
				captured = append(captured, msg...)
			}
		}
	}
	info, err := ParseRedis(captured)
	return named("redis", info, err)
}

// Service converts the result for the asset record.
func (i RedisInfo) Service(port int) Service {
	s := newService(port, "redis")
	s.Product, s.Version = "Redis", i.Version
	setEvidence(&s, "ping", i.Ping)
	setEvidence(&s, "mode", i.Mode)
	setEvidence(&s, "os", i.OS)
	if !i.AuthRequired && !i.Protected {
		addFinding(&s, FindingRedisNoAuth)
	}
	return s
}
