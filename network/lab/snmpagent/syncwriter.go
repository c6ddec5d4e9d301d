package snmpagent

import (
	"bytes"
	"sync"
)

// logBuffer collects the agent's stdout and stderr for failure messages. It serialises the
// two copiers' writes and keeps only the tail, so a chatty agent cannot grow memory unbounded.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

const maxLog = 64 << 10

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > maxLog {
		keep := l.b.Bytes()
		if len(keep) > maxLog/2 {
			keep = append([]byte(nil), keep[len(keep)-maxLog/2:]...)
		}
		l.b.Reset()
		l.b.Write(keep)
	}
	return l.b.Write(p)
}

// tail returns the last n bytes written.
func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
