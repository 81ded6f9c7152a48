package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/store/memstore"
)

func TestCheckServeIssuer(t *testing.T) {
	const a, b = "https://auth.example.com", "https://auth2.example.com"
	tests := []struct {
		name      string
		recorded  string // "" for a new database
		issuer    string
		wantErr   []string // substrings; nil for success
		wantLog   string   // substring of the log; "" for no record
		wantStore string
	}{
		{name: "first start records and says so", issuer: a, wantLog: "issuer recorded", wantStore: a},
		{name: "same issuer", recorded: a, issuer: a, wantStore: a},
		{name: "another issuer is refused with both and the way out", recorded: a, issuer: b,
			wantErr: []string{
				"serves issuer " + a + ", but this server was started with --issuer " + b,
				"Start this one with --issuer " + a,
				"m2m issuer set " + b,
			}, wantStore: a},
		{name: "a malformed issuer records nothing", issuer: "auth.example.com",
			wantErr: []string{"absolute http(s) URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memstore.New()
			if tt.recorded != "" {
				if err := checkServeIssuer(t.Context(), st, tt.recorded, slog.New(slog.DiscardHandler)); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			err := checkServeIssuer(t.Context(), st, tt.issuer, slog.New(slog.NewTextHandler(&log, nil)))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("checkServeIssuer(%q) = %v; want nil", tt.issuer, err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("checkServeIssuer(%q) = %v; want it to contain %q", tt.issuer, err, w)
				}
			}
			if err != nil {
				if e, ok := err.(*ExitError); !ok || e.Code != 1 {
					t.Errorf("checkServeIssuer(%q) = %#v; want exit status 1", tt.issuer, err)
				}
			}
			if tt.wantLog == "" && log.Len() != 0 || tt.wantLog != "" && !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log = %q; want %q", log.String(), tt.wantLog)
			}
			got, _ := st.GetSetting(t.Context(), "issuer")
			if got != tt.wantStore {
				t.Errorf("stored issuer = %q; want %q", got, tt.wantStore)
			}
		})
	}
}
