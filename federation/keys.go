package federation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/store"
)

// maxKeySources bounds the cached key sources; past it the cache starts
// afresh (sources of current policies are rebuilt on their next use).
const maxKeySources = 1024

// discoveryPath is where OpenID Connect Discovery 1.0 (section 4) puts an
// issuer's configuration.
const discoveryPath = "/.well-known/openid-configuration"

// sourceKey identifies the keys of a policy: its issuer and how its keys
// are found (a jwks_uri, discovery, or a JWK Set by value).
func sourceKey(p *store.TrustPolicy) string {
	if len(p.JWKS) > 0 {
		sum := sha256.Sum256(p.JWKS)
		return "jwks\x00" + string(sum[:])
	}
	return "uri\x00" + p.Issuer + "\x00" + p.JWKSURI
}

// keySource returns the cached key set of p, making it on first use.
func (v *Verifier) keySource(p *store.TrustPolicy) (jwk.KeySet, error) {
	k := sourceKey(p)
	v.mu.Lock()
	defer v.mu.Unlock()
	if ks, ok := v.sources[k]; ok {
		return ks, nil
	}
	ks, err := v.newKeySource(p)
	if err != nil {
		return nil, err
	}
	if v.sources == nil || len(v.sources) >= maxKeySources {
		v.closeSourcesLocked()
		v.sources = make(map[string]jwk.KeySet)
	}
	v.sources[k] = ks
	return ks, nil
}

// closeSourcesLocked releases the idle connections of every remote source.
func (v *Verifier) closeSourcesLocked() {
	for _, ks := range v.sources {
		if d, ok := ks.(*discovered); ok {
			d.client.CloseIdleConnections()
		}
	}
}

// pruneSources drops the key sources no current policy uses.
func (v *Verifier) pruneSources(policies []*store.TrustPolicy) {
	used := make(map[string]bool, len(policies))
	for _, p := range policies {
		used[sourceKey(p)] = true
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, ks := range v.sources {
		if !used[k] {
			if d, ok := ks.(*discovered); ok {
				d.client.CloseIdleConnections()
			}
			delete(v.sources, k)
		}
	}
}

func (v *Verifier) newKeySource(p *store.TrustPolicy) (jwk.KeySet, error) {
	if len(p.JWKS) > 0 {
		if p.JWKSURI != "" {
			return nil, errors.New("the policy has both a JWK Set and a jwks_uri")
		}
		if int64(len(p.JWKS)) > v.maxDocumentBytes() {
			return nil, fmt.Errorf("the policy's JWK Set is larger than %d bytes", v.maxDocumentBytes())
		}
		set, err := jwk.ParseSet(p.JWKS)
		if err != nil {
			return nil, fmt.Errorf("the policy's JWK Set is not usable: %w", err)
		}
		return jwk.NewStaticKeySet(set), nil
	}
	n := namedAddrs(p.Issuer, p.JWKSURI)
	if _, err := n.checkURL(p.Issuer); err != nil {
		return nil, fmt.Errorf("the policy's issuer %s cannot be fetched from: %v", redact.URL(p.Issuer), err)
	}
	d := &discovered{
		v:      v,
		issuer: p.Issuer,
		named:  n,
		client: newFetchClient(v.transport, n, v.fetchTimeout()),
	}
	if p.JWKSURI != "" {
		if _, err := n.checkURL(p.JWKSURI); err != nil {
			return nil, fmt.Errorf("the policy's jwks_uri %s cannot be fetched from: %v", redact.URL(p.JWKSURI), err)
		}
		d.set = d.remote(p.JWKSURI)
		d.fixed = true
	}
	return d, nil
}

// discovered is the key set of an issuer: at a jwks_uri the policy gives
// (fixed), or at the jwks_uri of the issuer's OpenID Connect discovery
// document, looked up again every KeyCacheLifetime. The keys themselves
// are a [jwk.RemoteKeySet]: cached, refreshed as Cache-Control says
// within bounds, refetched on an unknown kid at most once per
// MinRefetchInterval.
type discovered struct {
	v      *Verifier
	issuer string
	named  named
	client *http.Client
	fixed  bool

	mu           sync.Mutex
	set          *jwk.RemoteKeySet
	discoveredAt time.Time
	lastTry      time.Time
	lastErr      error
	flight       *discoveryFlight
}

type discoveryFlight struct {
	done chan struct{}
	err  error
}

var _ jwk.KeySet = (*discovered)(nil)

func (d *discovered) remote(uri string) *jwk.RemoteKeySet {
	return &jwk.RemoteKeySet{
		URL:                uri,
		HTTPClient:         d.client,
		RefreshInterval:    d.v.keyCacheLifetime(),
		MinRefetchInterval: d.v.minRefetchInterval(),
		FetchTimeout:       d.v.fetchTimeout(),
		MaxResponseBytes:   d.v.maxDocumentBytes(),
		MaxStale:           d.v.maxStale(),
		Now:                d.v.now,
		Logger:             d.v.cfg.Logger,
	}
}

// Current returns the last fetched set, or nil.
func (d *discovered) Current() *jwk.Set {
	d.mu.Lock()
	set := d.set
	d.mu.Unlock()
	if set == nil {
		return nil
	}
	return set.Current()
}

// Lookup returns the issuer's keys for kid, discovering the jwks_uri
// first when needed.
func (d *discovered) Lookup(ctx context.Context, kid string) ([]jwk.Key, error) {
	set, err := d.keySet(ctx)
	if err != nil {
		return nil, err
	}
	return set.Lookup(ctx, kid)
}

// keySet returns the remote key set, running discovery when none is known
// yet (waiting for it) or when the last one is older than the key cache
// lifetime (in the background, answering from the old set meanwhile).
func (d *discovered) keySet(ctx context.Context) (*jwk.RemoteKeySet, error) {
	now := d.v.now()
	d.mu.Lock()
	if d.fixed {
		set := d.set
		d.mu.Unlock()
		return set, nil
	}
	if d.set != nil {
		set := d.set
		if now.Sub(d.discoveredAt) >= d.v.keyCacheLifetime() && d.flight == nil && now.Sub(d.lastTry) >= d.v.minRefetchInterval() {
			d.startLocked(ctx, now)
		}
		d.mu.Unlock()
		return set, nil
	}
	f := d.flight
	if f == nil {
		if !d.lastTry.IsZero() && now.Sub(d.lastTry) < d.v.minRefetchInterval() {
			err := d.lastErr
			d.mu.Unlock()
			return nil, fmt.Errorf("federation: the issuer's discovery failed recently (retrying later): %w", err)
		}
		f = d.startLocked(ctx, now)
	}
	d.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.set, nil
}

func (d *discovered) startLocked(ctx context.Context, now time.Time) *discoveryFlight {
	f := &discoveryFlight{done: make(chan struct{})}
	d.flight = f
	d.lastTry = now
	go func() {
		fctx, cancel := withTimeout(ctx, d.v.fetchTimeout(), true)
		defer cancel()
		uri, err := d.discover(fctx)
		d.mu.Lock()
		defer d.mu.Unlock()
		if err == nil {
			if d.set == nil || d.set.URL != uri {
				d.set = d.remote(uri)
			}
			d.discoveredAt = d.v.now()
		} else {
			d.v.logger().LogAttrs(ctx, slog.LevelWarn, "federation: issuer discovery failed",
				slog.String("issuer", redact.URL(d.issuer)), slog.String("error", err.Error()))
		}
		d.lastErr = err
		f.err = err
		d.flight = nil
		close(f.done)
	}()
	return f
}

// discover fetches the issuer's OpenID Connect discovery document and
// returns its jwks_uri, checking that its issuer is the policy's.
func (d *discovered) discover(ctx context.Context) (string, error) {
	uri := trimSlash(d.issuer) + discoveryPath
	shown := redact.URL(uri)
	data, err := fetchDocument(ctx, d.client, uri, d.v.maxDocumentBytes())
	if err != nil {
		return "", fmt.Errorf("federation: discovery at %s: %w", shown, redact.Error(err, uri))
	}
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("federation: discovery at %s: not a JSON object", shown)
	}
	if doc.Issuer == nil || *doc.Issuer != d.issuer {
		return "", fmt.Errorf("federation: discovery at %s: the document's issuer is not the policy's", shown)
	}
	if doc.JWKSURI == nil || *doc.JWKSURI == "" {
		return "", fmt.Errorf("federation: discovery at %s: no jwks_uri", shown)
	}
	if _, err := d.named.checkURL(*doc.JWKSURI); err != nil {
		return "", fmt.Errorf("federation: discovery at %s: the jwks_uri cannot be fetched from: %v", shown, err)
	}
	return *doc.JWKSURI, nil
}

// trimSlash drops one trailing '/' of an issuer before the well-known
// path is appended (OpenID Connect Discovery 1.0 section 4.1).
func trimSlash(s string) string {
	if len(s) > 0 && s[len(s)-1] == '/' {
		return s[:len(s)-1]
	}
	return s
}

// fetchDocument GETs uri with hc and returns a 200 response's body of at
// most limit bytes.
func fetchDocument(ctx context.Context, hc *http.Client, uri string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, errors.New("cannot make the request")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("the document is larger than %d bytes", limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("the document is larger than %d bytes", limit)
	}
	return data, nil
}
