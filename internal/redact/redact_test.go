package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// PostgreSQL URLs.
		{"pg userinfo", "postgres://alice:s3cret@db.example:5432/m2m?sslmode=require", "postgres://alice:xxxxx@db.example:5432/m2m?sslmode=require"},
		{"pg user only", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"},
		{"pg password param", "postgres://alice@db/m2m?password=s3cret&sslmode=disable", "postgres://alice@db/m2m?password=xxxxx&sslmode=disable"},
		{"pg sslpassword param", "postgresql://db/m2m?sslpassword=s3cret", "postgresql://db/m2m?sslpassword=xxxxx"},
		{"pg param name case", "postgres://db/m2m?PassWord=s3cret", "postgres://db/m2m?PassWord=xxxxx"},
		{"pg encoded param name", "postgres://db/m2m?pass%77ord=s3cret", "postgres://db/m2m?pass%77ord=xxxxx"},
		{"pg pass-like params", "postgres://db/?pass=a&passwd=b&pwd=c&x=1", "postgres://db/?pass=xxxxx&passwd=xxxxx&pwd=xxxxx&x=1"},
		{"pg semicolon separator", "postgres://db/?a=1;password=s3cret", "postgres://db/?a=1;password=xxxxx"},
		{"pg at sign in password", "postgres://alice:p@ss@db/m2m", "postgres://alice:xxxxx@db/m2m"},
		{"pg encoded password", "postgres://alice:p%40ss%2Fw@db/m2m", "postgres://alice:xxxxx@db/m2m"},
		{"pg empty password", "postgres://alice:@db/m2m", "postgres://alice:xxxxx@db/m2m"},
		{"pg multi host", "postgres://alice:s3cret@h1:5432,h2:5432/m2m", "postgres://alice:xxxxx@h1:5432,h2:5432/m2m"},
		{"pg unix socket", "postgres:///m2m?host=/var/run/postgresql&password=s3cret", "postgres:///m2m?host=/var/run/postgresql&password=xxxxx"},
		// Keyword/value strings.
		{"kv plain", "host=db user=alice password=s3cret dbname=m2m", "host=db user=alice password=xxxxx dbname=m2m"},
		{"kv quoted", "host=db password='s3 cr\\'et' dbname=m2m", "host=db password=xxxxx dbname=m2m"},
		{"kv spaces around =", "host = db password = s3cret", "host=db password=xxxxx"},
		{"kv sslpassword", "host=db sslpassword=s3cret sslmode=verify-full", "host=db sslpassword=xxxxx sslmode=verify-full"},
		{"kv nested URL", "dbname=postgres://alice:s3cret@db/m2m host=db", "dbname=xxxxx host=db"},
		{"kv unterminated quote", "host=db password='s3cret", "[REDACTED]"},
		{"kv no =", "host=db password", "[REDACTED]"},
		// Redis.
		{"redis password only", "redis://:s3cret@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"rediss user and password", "rediss://default:s3cret@cache.example:6380", "rediss://default:xxxxx@cache.example:6380"},
		{"redis no credentials", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		// JWKS and issuer URLs.
		{"jwks userinfo", "https://bob:s3cret@idp.example/.well-known/jwks.json", "https://xxxxx:xxxxx@idp.example/.well-known/jwks.json"},
		{"token as user name", "https://ghp_s3cret@idp.example/jwks", "https://xxxxx@idp.example/jwks"},
		{"api key param", "https://idp.example/jwks?api_key=s3cret&v=2", "https://idp.example/jwks?api_key=xxxxx&v=2"},
		{"token in fragment", "https://idp.example/cb#access_token=s3cret&state=1", "https://idp.example/cb#access_token=xxxxx&state=1"},
		{"nested URL in param", "https://idp.example/?next=https%3A%2F%2Fu%3As3cret%40evil.example%2F", "https://idp.example/?next=https%3A%2F%2Fxxxxx%3Axxxxx%40evil.example%2F"},
		{"plain issuer", "https://idp.example/tenant/", "https://idp.example/tenant/"},
		// Not URLs.
		{"sqlite path", "/var/lib/m2m/m2m.db", "/var/lib/m2m/m2m.db"},
		{"sqlite URL", "sqlite:///var/lib/m2m/m2m.db", "sqlite:///var/lib/m2m/m2m.db"},
		{"sqlite relative", "sqlite:data/m2m.db", "sqlite:data/m2m.db"},
		{"redis address", "127.0.0.1:6379", "127.0.0.1:6379"},
		{"empty", "", ""},
		// Unparseable: never echoed.
		{"bad escape", "postgres://alice:s3%zzcret@db/m2m", "postgres:[REDACTED]"},
		{"bad port", "redis://:s3cret@host:port/0", "redis:[REDACTED]"},
		{"space in URL", "postgres://alice:s3 cret@db/m2m", "postgres:[REDACTED]"},
		{"bad escape in param", "https://idp.example/?password=s3%zz", "https:[REDACTED]"},
		{"userinfo without scheme", "alice:s3cret@db:5432", "[REDACTED]"},
		{"opaque with userinfo", "postgres:alice:s3cret@db", "[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name, text, dsn, want string
	}{
		{"dsn echoed", "cannot parse `postgres://u:s3cret@db/x?sslmode=bogus`: invalid sslmode", "postgres://u:s3cret@db/x?sslmode=bogus", "cannot parse `postgres://u:xxxxx@db/x?sslmode=bogus`: invalid sslmode"},
		{"password alone", "auth failed for password s3cret", "host=db password=s3cret", "auth failed for password xxxxx"},
		{"decoded password", "bad password p@ss/w", "postgres://u:p%40ss%2Fw@db/x", "bad password xxxxx"},
		{"kv spaces pgx misses", "cannot parse `host=db password = s3cret`", "host=db password = s3cret", "cannot parse `host=db password=xxxxx`"},
		{"no credentials", "dial tcp 127.0.0.1:5432: connection refused", "postgres://postgres@127.0.0.1:5432/postgres", "dial tcp 127.0.0.1:5432: connection refused"},
		{"dsn quoted", `parse "postgres://u@db/x?password=pa\"ss-w0rd": bad`, `postgres://u@db/x?password=pa"ss-w0rd`, `parse "postgres://u@db/x?password=xxxxx": bad`},
		{"password quoted alone", `password "pa\"ss-w0rd" rejected`, `postgres://u@db/x?password=pa"ss-w0rd`, `password "xxxxx" rejected`},
		{"unparseable dsn", "cannot parse `postgres://u:s3%zz@db`", "postgres://u:s3%zz@db", "[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.text, tt.dsn); got != tt.want {
				t.Errorf("Text(%q, %q) = %q; want %q", tt.text, tt.dsn, got, tt.want)
			}
		})
	}
}

func TestError(t *testing.T) {
	dsn := "postgres://u:s3cret@db/x"
	cause := &fs.PathError{Op: "open", Path: dsn, Err: fs.ErrNotExist}
	err := Error(fmt.Errorf("store: %w", cause), dsn)
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Error(...).Error() = %q; want the password masked", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(Error(...), fs.ErrNotExist) = false; want true")
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("errors.As(Error(...), *fs.PathError) = false; want true")
	}
	if Error(nil, dsn) != nil {
		t.Errorf("Error(nil) != nil")
	}
	if got := Error(errors.New("cannot parse `x:s3%zz@`"), "postgres://x:s3%zz@db").Error(); strings.Contains(got, "s3") {
		t.Errorf("Error for an unparseable dsn = %q; want the text withheld", got)
	}
}

// forms plants pw in every credential position a connection string or
// URL can hold it.
func forms(pw, extra string) []string {
	q := url.QueryEscape(pw)
	u := url.UserPassword("alice", pw).String()
	kvQuoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
	return []string{
		"postgres://" + u + "@db.example:5432/m2m?sslmode=disable&" + extra,
		"postgresql://db.example/m2m?" + extra + "&password=" + q,
		"postgres://db.example/m2m?sslpassword=" + q + "&" + extra,
		"postgres://db.example/m2m?" + extra + ";pass=" + q,
		"host=db.example user=alice password=" + kvQuoted + " dbname=m2m",
		"host=db.example password = " + kvQuoted,
		"redis://:" + url.PathEscape(pw) + "@127.0.0.1:6379/0",
		"rediss://" + u + "@cache.example:6380/1?" + extra,
		"https://" + u + "@idp.example/.well-known/jwks.json?" + extra,
		"https://" + url.PathEscape(pw) + "@idp.example/jwks",
		"https://idp.example/jwks?" + extra + "&api_key=" + q,
	}
}

// unmask takes the masks out of an output, so that a password that
// overlaps a mask ("xxx@" in "xxxxx@") is not mistaken for a survivor.
var unmask = strings.NewReplacer(Mask, "\x00", Withheld, "\x01")

func FuzzURL(f *testing.F) {
	f.Add("s3cret-pw", "sslmode=disable")
	f.Add("p@ss:w/rd?#&=", "a=b")
	f.Add(`it's \ quoted`, "")
	f.Add("xxxxx", "x=y")
	f.Add("%zz", "password=%")
	f.Fuzz(func(t *testing.T, pw, extra string) {
		if len(pw) < 4 {
			t.Skip() // too short to tell apart from the rest of the string
		}
		if strings.Contains(Mask+" "+Withheld+" connect\n\nfailed: password\n\nrejected", pw) || strings.Contains(pw, "\n") {
			// The password is part of the masks or the test's text, or
			// could straddle the text's separators.
			t.Skip()
		}
		empty := forms("", extra)
		for i, s := range forms(pw, extra) {
			out := unmask.Replace(URL(s))
			for _, enc := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
				if strings.Contains(empty[i]+Mask+Withheld, enc) {
					continue // the password is part of the surrounding text
				}
				if strings.Contains(out, enc) {
					t.Fatalf("URL(%q) = %q: the password %q survives", s, out, enc)
				}
			}
			if strings.Contains(empty[i], pw) {
				continue
			}
			text := "connect\n" + s + "\nfailed: password\n" + pw + "\nrejected"
			if got := Text(text, s); strings.Contains(unmask.Replace(got), pw) {
				t.Fatalf("Text(%q, %q) = %q: the password survives", text, s, got)
			}
		}
		// Any input: no panic, and the result is stable.
		out := URL(pw)
		if again := URL(out); again != out && out != Withheld {
			t.Fatalf("URL(URL(%q)) = %q; want %q", pw, again, out)
		}
	})
}

// TestTextShortCredential: a credential too short to replace without
// rewriting unrelated words withholds the text instead of mangling it,
// and a text that does not contain it is left alone.
func TestTextShortCredential(t *testing.T) {
	tests := []struct {
		name, text, dsn, want string
	}{
		{"one-letter password in text", "dial tcp: connection refused by a", "redis://u:a@cache:6379", Withheld},
		{"three-letter password in text", "auth failed for abc", "postgres://app:abc@db/x", Withheld},
		{"short password absent from text", "connection refused", "redis://u:a@cache:6379", "connection refused"},
		{"long password masked in place", "auth failed: s3cret-pw", "redis://u:s3cret-pw@cache:6379", "auth failed: " + Mask},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.text, tt.dsn); got != tt.want {
				t.Errorf("Text(%q, %q) = %q; want %q", tt.text, tt.dsn, got, tt.want)
			}
		})
	}
}

// TestTextShortCredentialOnlyInDSN: the connection string itself is
// replaced whole by its masked form, so a short password that appears only
// inside it does not withhold the text.
func TestTextShortCredentialOnlyInDSN(t *testing.T) {
	dsn := "redis://u:q@cache:6379"
	got := Text("dial "+dsn+": refused", dsn)
	if want := "dial " + URL(dsn) + ": refused"; got != want {
		t.Errorf("Text = %q; want %q", got, want)
	}
}

// TestErrorRequestURL: the URL an HTTP client's error names is masked
// even when it is not the one the caller gave (a redirect's target), and
// however deep in the chain its *url.Error sits.
func TestErrorRequestURL(t *testing.T) {
	const given = "https://idp.example/jwks"
	tests := []struct {
		name    string
		err     error
		secrets []string
		want    string
	}{
		{
			name:    "redirect target with a signature",
			err:     &url.Error{Op: "Get", URL: "https://cdn.example/keys?X-Amz-Signature=0123abcd&v=1", Err: errors.New("connection refused")},
			secrets: []string{"0123abcd"},
			want:    `Get "https://cdn.example/keys?X-Amz-Signature=xxxxx&v=1": connection refused`,
		},
		{
			name:    "user name as token, password stripped by net/http",
			err:     fmt.Errorf("fetch: %w", &url.Error{Op: "Get", URL: "https://ghp_t0ken@cdn.example/keys", Err: errors.New("EOF")}),
			secrets: []string{"ghp_t0ken"},
			want:    `fetch: Get "https://xxxxx@cdn.example/keys": EOF`,
		},
		{
			name: "credential echoed again by the inner error",
			err: &url.Error{Op: "Get", URL: "https://cdn.example/k?token=t0k3n-value",
				Err: errors.New("redirect to https://other.example/?t=t0k3n-value refused")},
			secrets: []string{"t0k3n-value"},
			want:    `Get "https://cdn.example/k?token=xxxxx": redirect to https://other.example/?t=xxxxx refused`,
		},
		{
			name:    "unparseable URL from a parse error",
			err:     &url.Error{Op: "parse", URL: "https://u:s3%zzcret@cdn.example/", Err: errors.New(`invalid URL escape "%zz"`)},
			secrets: []string{"s3%zzcret"},
			want:    `parse "https:[REDACTED]": invalid URL escape "%zz"`,
		},
		{
			name: "joined errors",
			err: errors.Join(errors.New("first try failed"),
				fmt.Errorf("second: %w", &url.Error{Op: "Post", URL: "https://hooks.example/h?key=k3y-value", Err: errors.New("timeout")})),
			secrets: []string{"k3y-value"},
			want:    "first try failed\nsecond: Post \"https://hooks.example/h?key=xxxxx\": timeout",
		},
		{
			name:    "quoted by url.Error",
			err:     &url.Error{Op: "parse", URL: `https://u:pa"ss-w0rd@cdn.example/%zz`, Err: errors.New(`invalid URL escape "%zz"`)},
			secrets: []string{`pa"ss-w0rd`, `pa\"ss-w0rd`},
			want:    `parse "https:[REDACTED]": invalid URL escape "%zz"`,
		},
		{
			name: "no credential",
			err:  &url.Error{Op: "Get", URL: given, Err: errors.New("EOF")},
			want: `Get "https://idp.example/jwks": EOF`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Error(tt.err, given)
			if got.Error() != tt.want {
				t.Errorf("Error(%q) = %q; want %q", tt.err, got, tt.want)
			}
			for _, s := range tt.secrets {
				if strings.Contains(got.Error(), s) {
					t.Errorf("Error(...) = %q; it shows %q", got, s)
				}
			}
			var ue *url.Error
			if !errors.As(got, &ue) {
				t.Errorf("errors.As(Error(...), *url.Error) = false; want true")
			}
		})
	}
}

// FuzzError plants a password in every credential position of the URL of
// an HTTP client's error that is not the URL the caller names: the
// masked text never shows it.
func FuzzError(f *testing.F) {
	f.Add("s3cret-pw", "sslmode=disable", uint8(0))
	f.Add("p@ss:w/rd?#&=", "a=b", uint8(1))
	f.Add("it's \\ quoted", "", uint8(2))
	f.Add("%zz\x01", "token=%", uint8(0))
	ops := []string{"Get", "Post", "parse"}
	f.Fuzz(func(t *testing.T, pw, extra string, opIndex uint8) {
		if len(pw) < MinMaskable || strings.Contains(pw, `"`) {
			// Too short to tell apart from the rest of the text, or able
			// to straddle the quotes around the URL (quoting is tested
			// in TestErrorRequestURL).
			t.Skip()
		}
		op := ops[int(opIndex)%len(ops)]
		errFor := func(u string) error {
			return fmt.Errorf("fetch: %w", &url.Error{Op: op, URL: u, Err: errors.New("connection refused")})
		}
		empty := forms("", extra)
		for i, s := range forms(pw, extra) {
			err := errFor(s)
			out := unmask.Replace(Error(err, "https://idp.example/").Error())
			around := Error(errFor(empty[i]), "https://idp.example/").Error() + Mask + Withheld
			for _, enc := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw), quoted(pw)} {
				if strings.Contains(empty[i]+around, enc) {
					continue // the password is part of the surrounding text
				}
				if strings.Contains(out, enc) {
					t.Fatalf("Error(%q) = %q: the password %q survives", err, out, enc)
				}
			}
		}
	})
}

// TestErrorProxyURL: a proxy URL of the environment, which may hold the
// proxy's password, is masked wherever an error quotes it.
func TestErrorProxyURL(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://proxyuser:pr0xy-pass@proxy.example:3128")
	t.Setenv("http_proxy", "http://proxyuser:pr0xy%zz@proxy.example:3128")
	tests := []struct{ in, want string }{
		{`proxyconnect tcp: dial http://proxyuser:pr0xy-pass@proxy.example:3128: refused`, `proxyconnect tcp: dial http://xxxxx:xxxxx@proxy.example:3128: refused`},
		{`proxy refused password pr0xy-pass`, `proxy refused password xxxxx`},
		{`invalid proxy address "http://proxyuser:pr0xy%zz@proxy.example:3128": invalid URL escape "%zz"`, `invalid proxy address "http:[REDACTED]": invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		if got := Error(errors.New(tt.in), "").Error(); got != tt.want {
			t.Errorf("Error(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
