// Package ui owns the web console: the React app under ui/ (built by `make ui` into ui/dist,
// which is not committed) and the handler that serves it from the binary. Without a built
// console the handler serves a page that says how to build it.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed all:dist
var dist embed.FS

const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tenantra</title></head>
<body><main><h1>Tenantra</h1>
<p>The API is running, but this binary was built without the web console.</p>
<p>Build it with <code>make ui</code> and then <code>make build</code> (or simply
<code>make run</code>), and reload this page.</p></main></body></html>
`

// Handler serves the built console with a fallback to index.html for client-side routes,
// long cache lifetimes for hashed assets, and the placeholder page when nothing is built.
func Handler() http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write([]byte(notBuilt))
		})
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "" {
			p = "index.html"
		}
		if _, err := fs.Stat(sub, p); err != nil {
			// A client-side route: the app decides what to show.
			r = r.Clone(r.Context())
			r.URL.Path = "/"
			p = "index.html"
		}
		if strings.HasPrefix(p, "assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
