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

// hashedDir holds Vite's content-hashed files: their names change with their contents, so
// they may be cached for a year; everything else must be revalidated.
const hashedDir = "assets/"

// Handler serves the built console with a fallback to index.html for client-side routes,
// long cache lifetimes for hashed assets, and the placeholder page when nothing is built.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return placeholder()
	}
	return handler(sub)
}

func placeholder() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write([]byte(notBuilt))
	})
}

// handler serves the console from fsys (the contents of ui/dist).
func handler(fsys fs.FS) http.Handler {
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		return placeholder()
	}
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if !servable(fsys, p) {
			if strings.HasPrefix(p, hashedDir) || strings.HasPrefix(p, ".") {
				// A missing script or stylesheet must not get index.html (served as HTML
				// under nosniff it fails with a confusing MIME error instead of a 404).
				w.Header().Set("Cache-Control", "no-cache")
				http.NotFound(w, r)
				return
			}
			// A client-side route (or the root): the app decides what to show.
			r = r.Clone(r.Context())
			r.URL.Path = "/"
			p = "index.html"
		}
		if strings.HasPrefix(p, hashedDir) {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// servable reports whether p names a regular file that may be served: not a directory (no
// listings), not index.html by its own name (FileServer would redirect it to /), and nothing
// under a dot directory such as Vite's .vite/manifest.json.
func servable(fsys fs.FS, p string) bool {
	if p == "" || p == "index.html" || strings.HasPrefix(p, ".") || strings.Contains(p, "/.") {
		return false
	}
	st, err := fs.Stat(fsys, p)
	return err == nil && st.Mode().IsRegular()
}
