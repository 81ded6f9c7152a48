package authserver

import (
	"net/http"
	"time"

	"github.com/m2mkit/m2m/store"
)

// KeyInfo is a signing key as GET /admin/keys shows it: its lifecycle,
// never its private key. The JSON names are those of `m2m key list --json`.
type KeyInfo struct {
	KID       string    `json:"kid"`
	Algorithm string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	// ActivatedAt is when the key began signing, or for a next key when it
	// is due to.
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	// RetiredAt is when the key stopped signing.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// PublishUntil is when a retiring key leaves the key set.
	PublishUntil *time.Time `json:"publish_until,omitempty"`
}

// NewKeyInfo describes k.
func NewKeyInfo(k *store.SigningKey) KeyInfo {
	return KeyInfo{KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt.UTC(),
		ActivatedAt: optionalTime(k.ActivatedAt), RetiredAt: optionalTime(k.RetiredAt), PublishUntil: optionalTime(k.PublishUntil)}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// adminListKeys is GET /admin/keys: the signing keys, oldest first, when
// Config.Clients also stores the keys (every store.Store does); 501
// otherwise.
func (s *Server) adminListKeys(w http.ResponseWriter, r *http.Request) error {
	ks, ok := s.cfg.Clients.(store.Keys)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody("not_implemented", "this server's store does not list keys"))
		return nil
	}
	keys, err := ks.ListKeys(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Keys []KeyInfo `json:"keys"`
	}{Keys: []KeyInfo{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, NewKeyInfo(k))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
