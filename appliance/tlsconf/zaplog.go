package tlsconf

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns a zap logger that writes through log, because certmagic only speaks zap
// and the appliance logs everything through one slog handler (JSON, shared fields). The ACME
// account's e-mail address (which certmagic logs in fields, messages and storage paths) is
// replaced by "[email]": the appliance's logs carry no personal data.
func newZapLogger(log *slog.Logger, email string) *zap.Logger {
	return zap.New(&slogCore{h: log.Handler(), email: email})
}

// slogCore is a zapcore.Core that forwards entries to a slog.Handler.
type slogCore struct {
	h     slog.Handler
	email string
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{h: c.h.WithAttrs(c.attrs(fields)), email: c.email}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), c.scrub(e.Message), 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(c.attrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

func (c *slogCore) attrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys) // map order would make log lines differ run to run
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, c.scrubValue(enc.Fields[k])))
	}
	return attrs
}

// scrub replaces the e-mail address in s, ignoring case because storage keys and contacts
// may carry it lower-cased.
func (c *slogCore) scrub(s string) string {
	if c.email == "" {
		return s
	}
	lower, email := strings.ToLower(s), strings.ToLower(c.email)
	if len(lower) != len(s) || len(email) != len(c.email) {
		// Lower-casing changed byte lengths (non-ASCII), so indexes would not line up.
		return strings.ReplaceAll(s, c.email, "[email]")
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, email)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("[email]")
		s, lower = s[i+len(email):], lower[i+len(email):]
	}
}

// scrubValue handles the shapes zap's map encoder produces for certmagic's fields: strings
// (also errors), string arrays, and nested objects.
func (c *slogCore) scrubValue(v any) any {
	switch v := v.(type) {
	case string:
		return c.scrub(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = c.scrubValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = c.scrubValue(e)
		}
		return out
	}
	return v
}
