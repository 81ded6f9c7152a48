package main

import (
	"slices"
	"testing"
)

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []shape
		wantErr bool
	}{
		{"one", "http", []shape{{"http", false, true}}, false},
		{"all", "http, https,https-nokeepalive,http-nokeepalive", []shape{
			{"http", false, true}, {"https", true, true}, {"https-nokeepalive", true, false}, {"http-nokeepalive", false, false}}, false},
		{"unknown", "http,h2", nil, true},
		{"bad suffix", "https-keepalive", nil, true},
		{"twice", "https,https", nil, true},
		{"empty item", "http,", nil, true},
		{"case", "HTTPS", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseShapes(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("parseShapes(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	for _, name := range shapeNames {
		sh, err := parseShapes(name)
		if err != nil || shapeOf(sh[0].tls, sh[0].keepalive) != sh[0] {
			t.Errorf("parseShapes(%q) = %v, %v; want the shape shapeOf names", name, sh, err)
		}
	}
}
