package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// corsMaxAge is how long a browser may cache a preflight's answer, in
// seconds: two hours, the most Chromium honours.
const corsMaxAge = 7200

// WithCORS lets web pages served from origins call h from a browser:
// Connect, gRPC-Web and the streaming calls, with the bearer token in the
// Authorization header. Preflights are answered and cached for two hours; a
// request from any other origin gets no Access-Control-Allow-Origin, so the
// browser refuses it. With no origins, h is returned unchanged: pages on the
// service's own origin (its wizard) need no CORS.
func WithCORS(h http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return h
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         corsMaxAge,
	})
	return c.Handler(h)
}

// CheckOrigin checks one allowed origin as a browser sends it in the Origin
// header: scheme and host (and port), nothing else.
func CheckOrigin(origin string) error {
	if origin == "*" {
		return fmt.Errorf("origin %q would let any web page call the service with a user's token; list the frontend's origins instead", origin)
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("origin %q is not an origin: write it as the browser sends it, such as https://app.example.com or http://localhost:5173 (scheme, host and port; no path, no trailing slash)", origin)
	}
	if strings.ToLower(origin) != origin {
		return fmt.Errorf("origin %q has capital letters; browsers send origins in lower case", origin)
	}
	return nil
}
