package authserver_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/testbackend"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// issuerBackends are the databases CheckIssuer is tested on. open returns
// a new handle on one shared database each time it is called, as each
// replica has its own.
var issuerBackends = []struct {
	name string
	db   func(t *testing.T) (open func() store.Settings)
}{
	{"memstore", func(t *testing.T) func() store.Settings {
		s := memstore.New()
		return func() store.Settings { return s }
	}},
	{"sqlite", func(t *testing.T) func() store.Settings {
		return sqlOpener(t, "sqlite://"+filepath.Join(t.TempDir(), "m2m.db"))
	}},
	{"postgres", func(t *testing.T) func() store.Settings {
		return sqlOpener(t, testbackend.PostgresSchema(t, "m2m_issuer_"))
	}},
}

func sqlOpener(t *testing.T, url string) func() store.Settings {
	return func() store.Settings {
		s, err := sqlstore.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("sqlstore.Open() = %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func storedIssuer(t *testing.T, s store.Settings) string {
	t.Helper()
	v, err := s.GetSetting(t.Context(), authserver.IssuerSetting)
	if errors.Is(err, store.ErrNotFound) {
		return "(none)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckIssuer(t *testing.T) {
	const a, b = "https://auth.example", "https://auth2.example"
	type step struct {
		issuer       string
		allowChange  bool
		wantPrevious string
		wantErr      string // "" for success
		wantStored   string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first start records, same issuer passes", []step{
			{issuer: a, wantPrevious: "", wantStored: a},
			{issuer: a, wantPrevious: a, wantStored: a},
		}},
		{"another issuer is refused, naming both", []step{
			{issuer: a, wantStored: a},
			{issuer: b, wantPrevious: a, wantErr: `serves issuer "https://auth.example", not "https://auth2.example"`, wantStored: a},
		}},
		{"a trailing slash is another issuer", []step{
			{issuer: a, wantStored: a},
			{issuer: a + "/", wantPrevious: a, wantErr: "serves issuer", wantStored: a},
		}},
		{"an explicit change records the new issuer, then the old one is refused", []step{
			{issuer: a, wantStored: a},
			{issuer: b, allowChange: true, wantPrevious: a, wantStored: b},
			{issuer: a, wantPrevious: b, wantErr: `serves issuer "https://auth2.example", not "https://auth.example"`, wantStored: b},
			{issuer: b, wantPrevious: b, wantStored: b},
		}},
		{"allowChange on a new database records", []step{
			{issuer: b, allowChange: true, wantPrevious: "", wantStored: b},
		}},
		{"a bad issuer records nothing", []step{
			{issuer: "", wantErr: "Issuer is required", wantStored: "(none)"},
			{issuer: "auth.example", wantErr: "absolute http(s) URL", wantStored: "(none)"},
			{issuer: "https://auth.example/?tenant=1", wantErr: "without query", wantStored: "(none)"},
			{issuer: "ftp://auth.example", allowChange: true, wantErr: "absolute http(s) URL", wantStored: "(none)"},
			{issuer: "https://auth.example/?", wantErr: "without query", wantStored: "(none)"},
			{issuer: "https://auth.example/#", wantErr: "without query or fragment", wantStored: "(none)"},
			{issuer: "https://admin:pw@auth.example", wantErr: "user information", wantStored: "(none)"},
		}},
		{"a bad issuer changes nothing, even with allowChange", []step{
			{issuer: a, wantStored: a},
			{issuer: "auth.example", allowChange: true, wantErr: "absolute http(s) URL", wantStored: a},
		}},
	}
	for _, be := range issuerBackends {
		t.Run(be.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					open := be.db(t)
					for i, st := range tt.steps {
						s := open() // each step is another replica start
						prev, err := authserver.CheckIssuer(t.Context(), s, st.issuer, st.allowChange)
						if st.wantErr == "" && err != nil || st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)) {
							t.Fatalf("step %d: CheckIssuer(%q, %v) error = %v; want %q", i, st.issuer, st.allowChange, err, st.wantErr)
						}
						if prev != st.wantPrevious {
							t.Errorf("step %d: CheckIssuer(%q, %v) previous = %q; want %q", i, st.issuer, st.allowChange, prev, st.wantPrevious)
						}
						if got := storedIssuer(t, s); got != st.wantStored {
							t.Errorf("step %d: stored issuer = %q; want %q", i, got, st.wantStored)
						}
					}
				})
			}
		})
	}
}

func TestCheckIssuerMismatchError(t *testing.T) {
	s := memstore.New()
	if _, err := authserver.CheckIssuer(t.Context(), s, "https://a.example", false); err != nil {
		t.Fatal(err)
	}
	_, err := authserver.CheckIssuer(t.Context(), s, "https://b.example", false)
	var m *authserver.IssuerMismatchError
	if !errors.As(err, &m) || m.Stored != "https://a.example" || m.Configured != "https://b.example" {
		t.Errorf("CheckIssuer() error = %#v; want *IssuerMismatchError{Stored: a, Configured: b}", err)
	}
}

// TestCheckIssuerReplicasRace starts replicas with different issuers at
// once on a new database: one records its issuer, every other is
// refused naming it.
func TestCheckIssuerReplicasRace(t *testing.T) {
	for _, be := range issuerBackends {
		t.Run(be.name, func(t *testing.T) {
			open := be.db(t)
			const n = 6
			issuers := make([]string, n)
			handles := make([]store.Settings, n)
			for i := range n {
				issuers[i] = "https://replica" + string(rune('a'+i)) + ".example"
				handles[i] = open()
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = authserver.CheckIssuer(t.Context(), handles[i], issuers[i], false) })
			}
			wg.Wait()
			stored := storedIssuer(t, handles[0])
			winners := 0
			for i, err := range errs {
				var m *authserver.IssuerMismatchError
				switch {
				case err == nil:
					winners++
					if issuers[i] != stored {
						t.Errorf("replica %d (%s) started, but the database serves %s", i, issuers[i], stored)
					}
				case errors.As(err, &m):
					if m.Stored != stored {
						t.Errorf("replica %d refused naming %q; the database serves %q", i, m.Stored, stored)
					}
				default:
					t.Errorf("replica %d: CheckIssuer() = %v; want nil or a mismatch", i, err)
				}
			}
			if winners != 1 {
				t.Errorf("%d replicas started with different issuers on one new database; want exactly 1", winners)
			}
		})
	}
}

// TestIssuerWithPasswordNotEchoed: an issuer holding user information is
// refused without repeating it, in CheckIssuer and in Config.Validate.
func TestIssuerWithPasswordNotEchoed(t *testing.T) {
	const issuer = "https://admin:s3cret-pw@auth.example"
	_, err := authserver.CheckIssuer(t.Context(), memstore.New(), issuer, false)
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("CheckIssuer(%q) = %v; want a refusal that does not repeat the password", issuer, err)
	}
	cfg := authserver.Config{Issuer: issuer}
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "user information") {
		t.Errorf("Config.Validate() = %v; want a user information refusal that does not repeat the password", err)
	}
}
