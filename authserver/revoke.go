package authserver

import "net/http"

// adminRevokeTokens is POST /admin/clients/{id}/revoke-tokens: every token
// issued to the client until now becomes invalid (see
// [RevokeClientTokens]); it applies on this server at once.
func (s *Server) adminRevokeTokens(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := RevokeClientTokens(r.Context(), s.cfg.Clients, id, s.cfg.Now)
	if err != nil {
		return err
	}
	s.clients.forget(id)
	s.auditAdmin(r, AuditTokensRevokedForClient, id, "")
	writeJSON(w, http.StatusOK, NewClientInfo(c, "", s.now()))
	return nil
}
