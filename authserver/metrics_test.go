package authserver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/internal/version"
)

func TestBuildInfoMetric(t *testing.T) {
	for _, tc := range []struct {
		name, stamped, want string
	}{
		{"stamped with -ldflags -X", "v1.2.3", "v1.2.3"},
		{"not stamped", "", version.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := version.Version
			version.Version = tc.stamped
			t.Cleanup(func() { version.Version = saved })

			f := newFixture(t, nil)
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			want := fmt.Sprintf("m2m_build_info{goversion=%q,revision=%q,version=%q} 1\n", runtime.Version(), version.Revision(), tc.want)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
				var got []string
				for _, l := range strings.Split(w.Body.String(), "\n") {
					if strings.HasPrefix(l, "m2m_build_info") {
						got = append(got, l)
					}
				}
				t.Errorf("GET /metrics = %d, m2m_build_info lines %q; want 200 with %q", w.Code, got, want)
			}
		})
	}
}
