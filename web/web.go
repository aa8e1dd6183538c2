package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// dist is the built wizard (make web): index.html and assets/. It is
// committed, and CI checks that it is what its sources build to, so a fresh
// clone serves the page with nothing to build but the Go binary.
//
//go:embed dist
var dist embed.FS

// Handler serves the wizard's page at "/" and its files under "/assets/"
// (GET and HEAD), and passes every other request to api.
func Handler(api http.Handler) http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Path == "/" || r.URL.Path == "/index.html" || strings.HasPrefix(r.URL.Path, "/assets/")
		if !page || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			api.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		// The page loads only its own files and calls only its own origin;
		// the token in the fragment never leaves the browser.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
