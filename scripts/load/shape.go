package main

import (
	"fmt"
	"strings"
)

// shape is one way of reaching the servers: plain HTTP or TLS, with
// connections reused (keep-alive) or a new connection, so for TLS a full
// handshake, per request.
type shape struct {
	name      string
	tls       bool
	keepalive bool
}

// shapeNames lists every shape -shapes accepts, in its canonical spelling.
var shapeNames = []string{"http", "http-nokeepalive", "https", "https-nokeepalive"}

// parseShapes reads the comma-separated -shapes list: known names only,
// each at most once.
func parseShapes(s string) ([]shape, error) {
	var out []shape
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		name := strings.TrimSpace(f)
		scheme, rest, _ := strings.Cut(name, "-")
		sh := shape{name: name, tls: scheme == "https", keepalive: rest == ""}
		if (scheme != "http" && scheme != "https") || (rest != "" && rest != "nokeepalive") {
			return nil, fmt.Errorf("-shapes %q: unknown shape %q (want %s)", s, name, strings.Join(shapeNames, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("-shapes %q: %q given twice", s, name)
		}
		seen[name] = true
		out = append(out, sh)
	}
	return out, nil
}

// shapeOf is the single shape the -tls and -keepalive flags name.
func shapeOf(useTLS, keepalive bool) shape {
	name := "http"
	if useTLS {
		name = "https"
	}
	if !keepalive {
		name += "-nokeepalive"
	}
	return shape{name: name, tls: useTLS, keepalive: keepalive}
}
