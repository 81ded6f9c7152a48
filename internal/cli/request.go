package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/internal/redact"
)

func cmdRequest(env *Env) *cobra.Command {
	var (
		f        clientCredFlags
		headers  []string
		data     []string
		jsonBody string
		include  bool
	)
	c := &cobra.Command{
		Use:   "request METHOD URL",
		Short: "Make an authenticated API request and print the response",
		Long: "Get a token as \"m2m token\" does (same flags and environment), send METHOD\n" +
			"URL with \"Authorization: Bearer <token>\", and print the response body (with\n" +
			"-i, the status line and headers first). -H 'Name: value' adds a header;\n" +
			"--data k=v (repeatable) sends a form body, or query parameters for GET,\n" +
			"HEAD and DELETE; --json-body sends JSON. A 401 is retried once with a new\n" +
			"token; 429 and 503 are retried with backoff. With --dpop-key the token is\n" +
			"bound to that key and sent as \"Authorization: DPoP <token>\" with a DPoP\n" +
			"proof for the request (a use_dpop_nonce answer is retried once with the\n" +
			"server's nonce). With --client-cert and --client-key the token request and\n" +
			"the API request present that certificate (mutual TLS, RFC 8705), and a\n" +
			"client without a secret authenticates with it (--client-id or\n" +
			"$M2M_CLIENT_ID names it). Exit 0 for a 2xx answer, 1\n" +
			"otherwise, 2 on a usage error.",
		Example: "  m2m request GET https://api.example.com/v1/items --data limit=10\n" +
			"  m2m request POST https://api.example.com/v1/items --json-body '{\"name\":\"x\"}' -H 'X-Request-Id: 1'\n" +
			"  m2m request GET https://api.example.com/v1/items --client-id worker --client-cert worker.crt --client-key worker.key --issuer https://auth.example.com --audience https://api.example.com",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			method := strings.ToUpper(args[0])
			switch method {
			case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
			default:
				return Usage("method %q: want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS", args[0])
			}
			u, err := url.Parse(args[1])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return Usage("URL %q: want an absolute http(s) URL", redact.URL(args[1]))
			}
			var opts []clientcred.RequestOption
			for i, h := range headers {
				name, value, ok := strings.Cut(h, ":")
				name = strings.TrimSpace(name)
				if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
					// Not shown: "Authorization Bearer TOKEN" is a
					// credential with a missing colon.
					return Usage("-H (header %d of %d): want 'Name: value'", i+1, len(headers))
				}
				if strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "DPoP") {
					return Usage("-H %s: the token and its proof are added by m2m", name)
				}
				opts = append(opts, clientcred.Header(name, strings.TrimSpace(value)))
			}
			if len(data) > 0 && jsonBody != "" {
				return Usage("give --data or --json-body, not both")
			}
			if len(data) > 0 {
				v := url.Values{}
				for i, d := range data {
					k, val, ok := strings.Cut(d, "=")
					if !ok || k == "" {
						// Not shown: it may be a secret without its key.
						return Usage("--data (field %d of %d): want key=value", i+1, len(data))
					}
					v.Add(k, val)
				}
				switch method {
				case "GET", "HEAD", "DELETE":
					opts = append(opts, clientcred.Query(v))
				default:
					opts = append(opts, clientcred.Form(v))
				}
			}
			if jsonBody != "" {
				if !json.Valid([]byte(jsonBody)) {
					return Usage("--json-body: not valid JSON")
				}
				opts = append(opts, clientcred.Body([]byte(jsonBody), "application/json"))
			}
			cfg, err := f.config(env)
			if err != nil {
				return err
			}
			client, err := clientcred.NewClient(cfg)
			if err != nil {
				return Usage("%v", err)
			}
			if base := f.apiTransport(); base != nil {
				client.HTTPClient.Transport.(*clientcred.Transport).Base = base
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			resp, err := client.Do(ctx, method, u.String(), opts...)
			if err != nil {
				return tokenFailure(env, redact.Error(err, args[1]), false)
			}
			defer resp.Body.Close()
			if include {
				fmt.Fprintf(env.Stdout, "%s %s\n", resp.Proto, resp.Status)
				names := make([]string, 0, len(resp.Header))
				for k := range resp.Header {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					for _, v := range resp.Header[k] {
						fmt.Fprintf(env.Stdout, "%s: %s\n", k, v)
					}
				}
				fmt.Fprintln(env.Stdout)
			}
			if _, err := io.Copy(env.Stdout, resp.Body); err != nil {
				return Rejected(fmt.Errorf("reading the response: %w", err))
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return Rejected(fmt.Errorf("%s %s: %s", method, redact.URL(u.String()), resp.Status))
			}
			return nil
		},
	}
	f.add(c.Flags())
	fl := c.Flags()
	fl.StringArrayVarP(&headers, "header", "H", nil, "extra request header 'Name: value' (repeatable)")
	fl.StringArrayVar(&data, "data", nil, "form field or query parameter key=value (repeatable)")
	fl.StringVar(&jsonBody, "json-body", "", "JSON request body")
	fl.BoolVarP(&include, "include", "i", false, "print the status line and headers before the body")
	refuseZero(c, map[string]string{"token-url": "", "issuer": "", "domain": "", "audience": "", "credentials-file": "",
		"auth": "", "timeout": "give a positive duration", "dpop-key": "", "client-cert": "", "client-key": "", "server-ca": "", "client-id": ""})
	refuseZero(c, map[string]string{"json-body": "leave it out to send no body", "data": "", "header": ""})
	return c
}
