package cli

import "testing"

func TestDisplayURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlite:///var/lib/m2m/m2m.db", "sqlite:///var/lib/m2m/m2m.db"},
		{"postgres://m2m:hunter2@db:5432/m2m?sslmode=disable", "postgres://m2m:xxxxx@db:5432/m2m?sslmode=disable"},
		{"postgres://db/m2m?user=m2m&password=hunter2", "postgres://db/m2m?user=m2m&password=xxxxx"},
		{"redis://:hunter2@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"postgres://m2m@db/m2m", "postgres://m2m@db/m2m"},
		{"m2m.db", "m2m.db"},
	}
	for _, tc := range tests {
		if got := displayURL(tc.in); got != tc.want {
			t.Errorf("displayURL(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestDialable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "localhost:8080"},
		{"[::]:8080", "localhost:8080"},
		{"[::1]:8080", "[::1]:8080"},
	}
	for _, tc := range tests {
		if got := dialable(tc.in); got != tc.want {
			t.Errorf("dialable(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
