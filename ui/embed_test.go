package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	built := fstest.MapFS{
		"index.html":              {Data: []byte("<!doctype html><div id=root></div>")},
		"theme-init.js":           {Data: []byte("/* theme */")},
		"assets/index-abc123.js":  {Data: []byte("console.log(1)")},
		"assets/index-abc123.css": {Data: []byte("body{}")},
		".vite/manifest.json":     {Data: []byte("{}")},
	}
	tests := []struct {
		name, path string
		fsys       fstest.MapFS
		status     int
		cache      string
		body       string
		ctype      string
	}{
		{"root", "/", built, 200, "no-cache", "id=root", "text/html"},
		{"client route", "/t/acme/assets", built, 200, "no-cache", "id=root", "text/html"},
		{"assets dir is a route", "/assets", built, 200, "no-cache", "id=root", "text/html"},
		{"index by name", "/index.html", built, 200, "no-cache", "id=root", "text/html"},
		{"hashed script", "/assets/index-abc123.js", built, 200,
			"public, max-age=31536000, immutable", "console.log", "javascript"},
		{"hashed css", "/assets/index-abc123.css", built, 200,
			"public, max-age=31536000, immutable", "body{}", "text/css"},
		{"unhashed file", "/theme-init.js", built, 200, "no-cache", "theme", "javascript"},
		{"missing hashed file", "/assets/gone-000.js", built, 404, "no-cache", "", ""},
		{"manifest hidden", "/.vite/manifest.json", built, 404, "no-cache", "", ""},
		{"not built", "/anything", fstest.MapFS{".keep": {}}, 200, "no-cache", "make ui",
			"text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			handler(tt.fsys).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body %q lacks %q", rec.Body, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
		})
	}
}

// TestHandlerEmbedded checks the real embed: built or not, the handler answers the root.
func TestHandlerEmbedded(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / answered %d", rec.Code)
	}
}
