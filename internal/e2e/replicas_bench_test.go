package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/cli"
)

// startReplicaTB starts m2m serve like startServer, for benchmarks.
func startReplicaTB(tb testing.TB, data string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(m2mBin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error", "--key-refresh", "100ms"}, args...)...)
	out, err := cmd.StderrPipe() // the log, where the listening record is
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := cli.ListeningURL(sc.Text()); ok {
				listening <- u
			}
		}
		close(listening)
	}()
	select {
	case u, ok := <-listening:
		if !ok {
			tb.Fatal("m2m serve exited")
		}
		return u
	case <-time.After(30 * time.Second):
		tb.Fatal("m2m serve did not start")
	}
	return ""
}

// BenchmarkReplicasTokenEndpoint measures token endpoint throughput of one
// and of two m2m serve replicas on one PostgreSQL and one Redis (clients
// from PostgreSQL through the client cache, rate limits in Redis),
// requests spread round-robin over the replicas.
func BenchmarkReplicasTokenEndpoint(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			be := sharedBackends(b)
			data := filepath.Join(b.TempDir(), "shared")
			var urls []string
			for range n {
				urls = append(urls, startReplicaTB(b, data, be.replicaArgs()...))
			}
			out, err := exec.Command(m2mBin, "client", "create", "--json", "--name", "bench", "--audience", audience,
				"--rate-limit", "1000000", "--burst", "1000000", "--data", data, "--database", be.postgres).Output()
			if err != nil {
				b.Fatal(err)
			}
			var c createdClient
			if err := json.Unmarshal(out, &c); err != nil {
				b.Fatal(err)
			}
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}.Encode()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var next atomic.Uint64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					u := urls[next.Add(1)%uint64(len(urls))]
					resp, err := hc.Post(u+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("token = %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
		})
	}
}
