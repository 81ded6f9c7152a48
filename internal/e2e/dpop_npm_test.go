package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/npmpeer"
	"github.com/m2mkit/m2m/internal/testbackend"
)

// testCA writes a CA certificate (ca.pem) and a server certificate for
// 127.0.0.1 signed by it (tls.crt, tls.key) to dir, and returns a pool
// holding the CA.
func testCA(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "m2m e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, b := range map[string][]byte{
		"ca.pem":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

var apiBin struct {
	once sync.Once
	path string
	err  error
}

// startAPI builds examples/api once and runs it over TLS with the
// certificate in dir and args, trusting the test CA for the issuer's
// JWKS, and returns its base URL once it accepts connections.
func startAPI(t *testing.T, dir string, pool *x509.CertPool, args ...string) string {
	t.Helper()
	apiBin.once.Do(func() {
		apiBin.path = filepath.Join(filepath.Dir(m2mBin), "api")
		out, err := exec.Command("go", "build", "-o", apiBin.path, "github.com/m2mkit/m2m/examples/api").CombinedOutput()
		if err != nil {
			apiBin.err = fmt.Errorf("building examples/api: %v\n%s", err, out)
		}
	})
	if apiBin.err != nil {
		t.Fatal(apiBin.err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(apiBin.path, append([]string{"-addr", addr,
		"-tls-cert", filepath.Join(dir, "tls.crt"), "-tls-key", filepath.Join(dir, "tls.key")}, args...)...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+filepath.Join(dir, "ca.pem"))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "https://" + addr
	waitFor(t, 30*time.Second, func() bool {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return base
}

type dpopCase struct {
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"www_authenticate"`
	DPoPNonce       string `json:"dpop_nonce"`
	Error           string `json:"error"`
}

// TestDPoPWithOAuth4WebAPI: an independent DPoP client (npm oauth4webapi,
// run by Node) gets a DPoP-bound token from m2m serve --dpop --dpop-nonce
// over TLS and calls examples/api (which requires nonces too) with it;
// a replayed proof, a proof for another URL, for another method, from
// another key, the token without proof or as Bearer, and a stale nonce
// are each refused with the right challenge. With Redis, two API replicas
// sharing the replay cache refuse a proof replayed across them.
func TestDPoPWithOAuth4WebAPI(t *testing.T) {
	npmpeer.Node(t)
	dir := t.TempDir()
	pool := testCA(t, dir)
	s := startServer(t, filepath.Join(dir, "data"), "--dpop", "--dpop-nonce",
		"--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"))
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("m2m serve listens on %s; want https", s.url)
	}
	c := s.createClient("--name", "node", "--audience", audience, "--scope", "read")
	api := startAPI(t, dir, pool, "-issuer", s.url, "-audience", audience, "-dpop-nonce")

	env := []string{"ISSUER=" + s.url, "CLIENT_ID=" + c.ClientID, "CLIENT_SECRET=" + c.ClientSecret,
		"AUDIENCE=" + audience, "API=" + api, "NODE_EXTRA_CA_CERTS=" + filepath.Join(dir, "ca.pem")}
	var replicas []string
	if addr := os.Getenv("M2M_TEST_REDIS_ADDR"); addr != "" {
		// Two replicas behind one public URL (the first's), one replay
		// cache; no nonces (each replica would have its own secret).
		first := startAPI(t, dir, pool, "-issuer", s.url, "-audience", audience, "-redis", "redis://"+addr+"/0")
		second := startAPI(t, dir, pool, "-issuer", s.url, "-audience", audience, "-redis", "redis://"+addr+"/0", "-public-url", first)
		// The first replica's public URL is its own address (the default).
		replicas = []string{first, second}
		env = append(env, "REPLICA="+first)
	}
	out, err := npmpeer.Run(t, 90*time.Second, env, "dpop.mjs")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		TokenType       string `json:"token_type"`
		TokenNonceRetry bool   `json:"token_nonce_retry"`
		Hello           struct {
			Status        int            `json:"status"`
			Body          map[string]any `json:"body"`
			APINonceRetry bool           `json:"api_nonce_retry"`
		} `json:"hello"`
		Cases   map[string]dpopCase `json:"cases"`
		Replica *struct {
			Authorization string `json:"authorization"`
			DPoP          string `json:"dpop"`
		} `json:"replica"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	if !strings.EqualFold(got.TokenType, "DPoP") || !got.TokenNonceRetry {
		t.Errorf("token_type %q, nonce retry %v; want DPoP after a use_dpop_nonce retry", got.TokenType, got.TokenNonceRetry)
	}
	if got.Hello.Status != 200 || got.Hello.Body["scheme"] != "dpop" || got.Hello.Body["hello"] != c.ClientID || !got.Hello.APINonceRetry {
		t.Errorf("GET /hello = %d %v, nonce retry %v; want 200 from %s via dpop after a use_dpop_nonce retry", got.Hello.Status, got.Hello.Body, got.Hello.APINonceRetry, c.ClientID)
	}
	const proofRefused = `error="invalid_dpop_proof"`
	tests := []struct {
		name, challenge, errCode string
		status                   int
		nonce                    bool
	}{
		{"first use", "", "", 200, false},
		{"replayed proof", proofRefused, "invalid_dpop_proof", 401, false},
		{"proof for another URL", proofRefused, "invalid_dpop_proof", 401, false},
		{"proof for another method", proofRefused, "invalid_dpop_proof", 401, false},
		{"proof from another key", proofRefused, "invalid_dpop_proof", 401, false},
		{"stolen token as Bearer", `Bearer error="invalid_token"`, "bad_credentials", 401, false},
		{"DPoP token without proof", proofRefused, "invalid_dpop_proof", 401, false},
		{"stale nonce", `error="use_dpop_nonce"`, "use_dpop_nonce", 401, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, ok := got.Cases[tc.name]
			if !ok {
				t.Fatalf("node did not report %q", tc.name)
			}
			if g.Status != tc.status || g.Error != tc.errCode || !strings.Contains(g.WWWAuthenticate, tc.challenge) || (g.DPoPNonce != "") != tc.nonce {
				t.Errorf("%s = %d %q, WWW-Authenticate %q, DPoP-Nonce %q; want %d %q with %q (nonce %v)",
					tc.name, g.Status, g.Error, g.WWWAuthenticate, g.DPoPNonce, tc.status, tc.errCode, tc.challenge, tc.nonce)
			}
			if tc.status == 401 && !strings.Contains(g.WWWAuthenticate, `DPoP algs="`) {
				t.Errorf("%s: WWW-Authenticate %q lacks the DPoP challenge", tc.name, g.WWWAuthenticate)
			}
		})
	}
	t.Run("replay across replicas", func(t *testing.T) {
		testbackend.RedisAddr(t)
		if got.Replica == nil {
			t.Fatal("node made no proof for the replicas")
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		for i, want := range []int{200, 401} {
			req, _ := http.NewRequest("GET", replicas[i]+"/hello", nil)
			req.Header.Set("Authorization", got.Replica.Authorization)
			req.Header.Set("DPoP", got.Replica.DPoP)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want || (want == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), proofRefused)) {
				t.Errorf("replica %d: GET /hello = %d %q; want %d", i+1, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
			}
		}
	})
}
