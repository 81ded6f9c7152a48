package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/m2mkit/m2m/authserver"
)

// actorConsole is what the console sends in authserver.ActorHeader with
// every admin API call: audit events of its changes name the actor
// "admin-token:console".
const actorConsole = "console"

// maxAdminAnswer caps an admin API answer the console reads.
const maxAdminAnswer = 8 << 20

// apiError is an admin API refusal: its status, stable error code and
// description, and the fields it names.
type apiError struct {
	Status      int
	Code        string
	Description string
	Fields      []fieldProblem
}

type fieldProblem struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("console: admin API answered %d %s: %s", e.Status, e.Code, e.Description)
}

// Message is the refusal as a page shows it.
func (e *apiError) Message() string {
	if e.Description != "" {
		return e.Description
	}
	if e.Code != "" {
		return e.Code
	}
	return http.StatusText(e.Status)
}

// recorder is the in-process response of an admin API call, bounded in
// size.
type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
	over bool
}

func (w *recorder) Header() http.Header { return w.h }

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if room := maxAdminAnswer - w.body.Len(); room < len(p) {
		w.over = true
		if room > 0 {
			w.body.Write(p[:room])
		}
		return len(p), nil
	}
	return w.body.Write(p)
}

// call performs an admin API request in-process on behalf of the browser
// request r, with the admin token and the console as actor, and decodes a
// 2xx JSON answer into out (when out is not nil). A refusal is an
// *apiError.
func (c *Console) call(r *http.Request, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.TLS = r.TLS
	req.Header.Set("Authorization", "Bearer "+string(c.token))
	req.Header.Set(authserver.ActorHeader, actorConsole)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := &recorder{h: make(http.Header)}
	c.admin.ServeHTTP(w, req)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.over {
		return fmt.Errorf("console: admin API %s %s: answer over %d bytes", method, path, maxAdminAnswer)
	}
	if w.code < 200 || w.code > 299 {
		e := &apiError{Status: w.code}
		var b struct {
			Error            string         `json:"error"`
			ErrorDescription string         `json:"error_description"`
			Fields           []fieldProblem `json:"fields"`
		}
		if strings.HasPrefix(w.h.Get("Content-Type"), "application/json") && json.Unmarshal(w.body.Bytes(), &b) == nil {
			e.Code, e.Description, e.Fields = b.Error, b.ErrorDescription, b.Fields
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(w.body.Bytes(), out); err != nil {
		return fmt.Errorf("console: admin API %s %s: %w", method, path, err)
	}
	return nil
}
