// Package redact masks the credentials in a URL or a database connection
// string before the process prints or logs it, and in the errors of
// drivers that may echo one.
//
// [URL] knows these forms:
//
//   - user information: the password of "scheme://user:password@host"
//     (the user name is kept for postgres, postgresql, redis, rediss and
//     unix URLs, where it names a role; elsewhere, as in
//     "https://TOKEN@host", the whole user information is masked);
//   - query parameters and fragment parameters whose name looks like a
//     credential: password, sslpassword, pass, passwd, pwd, secret,
//     token, key, auth, credential, signature, session (any case, as part
//     of a longer name too);
//   - PostgreSQL keyword/value strings ("host=db password=secret"), quoted
//     or not, with the same names;
//   - a URL nested in a parameter value.
//
// Anything it cannot parse it does not echo: an unparseable URL keeps only
// its scheme, an unparseable keyword/value string becomes "[REDACTED]".
package redact

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	// MinMaskable is the length under which a credential found in a
	// connection string is not masked by replacement in free text: see
	// [Text].
	MinMaskable = 4
	// Mask replaces a credential inside a URL or connection string.
	Mask = "xxxxx"
	// Withheld replaces what could not be parsed.
	Withheld = "[REDACTED]"
)

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:`)

// sensitiveNames are the parts of a parameter name that mark its value as
// a credential.
var sensitiveNames = []string{"pass", "pwd", "secret", "token", "key", "auth", "cred", "sig", "session", "cookie"}

// Sensitive reports whether a query parameter or connection keyword
// named name carries a credential.
func Sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range sensitiveNames {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// keepsUser reports whether the user name of a URL with this scheme names
// a role rather than being a credential itself.
func keepsUser(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "redis", "rediss", "unix":
		return true
	}
	return false
}

// URL returns s, a URL or a PostgreSQL keyword/value connection string,
// with every credential masked (see the package documentation). A string
// of neither form (a file path, host:port) is returned as it is unless it
// contains '@'.
func URL(s string) string {
	out, _ := scan(s)
	return out
}

// scan returns the masked form of s and the credential values it masked,
// raw and decoded. The list is nil when s could not be parsed.
func scan(s string) (string, []string) {
	switch {
	case schemeRE.MatchString(s):
		return scanURL(s)
	case strings.Contains(s, "="):
		return scanKeywords(s)
	case strings.Contains(s, "@"):
		return Withheld, nil
	}
	return s, []string{}
}

func scanURL(s string) (string, []string) {
	scheme := s[:strings.IndexByte(s, ':')]
	hier := strings.HasPrefix(s[len(scheme)+1:], "//")
	withheld := Withheld
	if hier {
		// What precedes "://" is a scheme; without "//" it could be the
		// user name of "user:password@host".
		withheld = scheme + ":" + Withheld
	}
	u, err := url.Parse(s)
	if err != nil || strings.ContainsAny(s, " \t\r\n\x00") {
		return withheld, nil
	}
	found := []string{}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteByte(':')
	if u.Opaque != "" {
		if strings.Contains(u.Opaque, "@") {
			return Withheld, nil
		}
		b.WriteString(u.Opaque)
	} else if hier {
		b.WriteString("//")
		if u.User != nil {
			rawUser, rawPass, hasPass := rawUserinfo(s[len(scheme)+3:])
			name := u.User.Username()
			switch {
			case name == "":
			case keepsUser(scheme):
				b.WriteString(url.User(name).String())
			default:
				b.WriteString(Mask)
				found = append(found, rawUser, name)
			}
			if pw, ok := u.User.Password(); ok || hasPass {
				b.WriteString(":" + Mask)
				found = append(found, rawPass, pw)
			}
			b.WriteByte('@')
		}
		b.WriteString(u.Host)
		b.WriteString(u.EscapedPath())
	} else {
		b.WriteString(u.EscapedPath())
	}
	if u.RawQuery != "" || u.ForceQuery {
		q, f, ok := maskParams(u.RawQuery)
		if !ok {
			return withheld, nil
		}
		b.WriteString("?" + q)
		found = append(found, f...)
	}
	if _, frag, ok := strings.Cut(s, "#"); ok && frag != "" {
		q, f, ok := maskParams(frag)
		if !ok {
			return withheld, nil
		}
		b.WriteString("#" + q)
		found = append(found, f...)
	}
	return b.String(), found
}

// rawUserinfo splits the user information at the start of rest (what
// follows "scheme://") as written: the user, and the password when there
// is a ':'.
func rawUserinfo(rest string) (user, pass string, hasPass bool) {
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return "", "", false
	}
	user, pass, hasPass = strings.Cut(rest[:at], ":")
	return user, pass, hasPass
}

// maskParams masks the values of sensitive parameters in a query or
// fragment. ok is false when a parameter name cannot be decoded.
func maskParams(raw string) (out string, found []string, ok bool) {
	var b strings.Builder
	for raw != "" {
		part := raw
		sep := ""
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			part, sep, raw = raw[:i], raw[i:i+1], raw[i+1:]
		} else {
			raw = ""
		}
		k, v, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return "", nil, false
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return "", nil, false
		}
		switch {
		case Sensitive(name) && hasValue:
			b.WriteString(k + "=" + Mask)
			found = append(found, v, value)
			if p, err := url.PathUnescape(v); err == nil {
				found = append(found, p) // '+' kept, as a fragment reader may
			}
		case strings.Contains(value, "@") || strings.Contains(value, "://"):
			inner, f := scan(value)
			if f == nil {
				b.WriteString(k + "=" + Mask)
				found = append(found, v, value)
				break
			}
			b.WriteString(k + "=" + url.QueryEscape(inner))
			found = append(found, f...)
		default:
			b.WriteString(part)
		}
		b.WriteString(sep)
	}
	return b.String(), found, true
}

// scanKeywords masks a keyword/value connection string as libpq parses
// it: keyword, optional spaces, '=', optional spaces, and a value that is
// either single-quoted (with \' and \\) or runs to the next space (with
// backslash escapes).
func scanKeywords(s string) (string, []string) {
	var parts []string
	found := []string{}
	i := 0
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if key == "" || i == len(s) || s[i] != '=' {
			return Withheld, nil
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		vstart := i
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return Withheld, nil
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		raw, value := s[vstart:i], val.String()
		switch {
		case Sensitive(key):
			parts = append(parts, key+"="+Mask)
			found = append(found, raw, value)
		case strings.Contains(value, "@") || strings.Contains(value, "://") || strings.Contains(value, "="):
			inner, f := scan(value)
			if f == nil || inner != value {
				parts = append(parts, key+"="+Mask)
				found = append(found, raw, value)
				found = append(found, f...)
				break
			}
			parts = append(parts, key+"="+raw)
		default:
			parts = append(parts, key+"="+raw)
		}
	}
	return strings.Join(parts, " "), found
}

// Text returns text (an error message, a log line) with every credential
// of the connection string dsn masked wherever it appears, and dsn itself
// replaced by its masked form. When dsn cannot be parsed, the credentials
// are unknown and the whole text is withheld. A credential shorter than
// [MinMaskable] bytes cannot be masked by replacement without mangling
// every word that contains it (a one-letter password would rewrite every
// occurrence of that letter), so text that contains one is withheld too.
func Text(text, dsn string) string {
	masked, found := scan(dsn)
	if found == nil {
		return Withheld
	}
	// The connection string itself is replaced by its masked form, which
	// is put in last so that the masks are not scanned.
	const hole = "\x00"
	if dsn != "" {
		text = strings.ReplaceAll(text, quoted(dsn), hole)
		text = strings.ReplaceAll(text, dsn, hole)
	}
	found = withQuoted(found)
	for _, f := range found {
		if f != "" && len(f) < MinMaskable && strings.Contains(text, f) {
			return Withheld
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	found = slices.DeleteFunc(found, func(s string) bool { return s == "" })
	slices.SortFunc(found, func(a, b string) int { return len(b) - len(a) })
	for _, f := range found {
		text = strings.ReplaceAll(text, f, Mask)
	}
	return strings.ReplaceAll(text, hole, masked)
}

// Error returns err with its text passed through [Text] for dsn, and
// with the URL of every [*url.Error] in its chain masked by [URL]: the
// error of an HTTP client names the URL it requested last, which after a
// redirect is not dsn and may carry a credential of its own (the
// signature of a signed link, a token in the query). The proxy URLs of
// the environment (HTTPS_PROXY and the others) are masked the same way.
// errors.Is and errors.As still see err. It returns nil for a nil err.
func Error(err error, dsn string) error {
	if err == nil {
		return nil
	}
	urls := requestURLs(err, nil)
	for _, name := range proxyVars {
		if u := os.Getenv(name); u != "" && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	urls = slices.DeleteFunc(urls, func(u string) bool { return u == dsn })
	text := Text(maskURLsIn(err.Error(), urls), dsn)
	if text == Withheld {
		text = "error text withheld: it may echo a credential of the connection string that cannot be masked"
	}
	return &redactedError{err: err, text: text}
}

// proxyVars are the environment variables that name the proxy of Go's
// HTTP clients (and of most others). A proxy URL may hold the proxy's
// password, and Go quotes one it cannot parse in its error.
var proxyVars = []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"}

// requestURLs appends to urls the URL of every *url.Error in err's tree.
func requestURLs(err error, urls []string) []string {
	for err != nil {
		if ue, ok := err.(*url.Error); ok && ue.URL != "" && !slices.Contains(urls, ue.URL) {
			urls = append(urls, ue.URL)
		}
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				urls = requestURLs(inner, urls)
			}
			return urls
		default:
			return urls
		}
	}
	return urls
}

// maskURLsIn replaces each of urls in text by its masked form, and every
// credential of theirs at least [MinMaskable] bytes long wherever else
// text holds it. Shorter ones are left where their URL is not: these
// are URLs the program requested or was pointed to by its environment,
// not the connection string of the failing call, so an unrelated word
// that contains one is more likely than an echo.
func maskURLsIn(text string, urls []string) string {
	if len(urls) == 0 {
		return text
	}
	// Every URL is cut out first, longest first, so that a credential of
	// one does not break another before it is found whole; their masked
	// forms are put back last, so that the masks are not scanned.
	slices.SortFunc(urls, func(a, b string) int { return len(b) - len(a) })
	masked := make([]string, len(urls))
	var found []string
	for i, u := range urls {
		var f []string
		masked[i], f = scan(u)
		found = append(found, f...)
		hole := "\x00" + strconv.Itoa(i) + "\x00"
		text = strings.ReplaceAll(text, quoted(u), hole)
		text = strings.ReplaceAll(text, u, hole)
	}
	found = slices.DeleteFunc(withQuoted(found), func(s string) bool { return len(s) < MinMaskable })
	slices.SortFunc(found, func(a, b string) int { return len(b) - len(a) })
	for _, f := range found {
		text = strings.ReplaceAll(text, f, Mask)
	}
	for i := range urls {
		text = strings.ReplaceAll(text, "\x00"+strconv.Itoa(i)+"\x00", masked[i])
	}
	return text
}

// quoted returns s as %q shows it, without the quotes: errors such as
// *url.Error quote what they echo, escaping '"', '\\' and unprintable
// characters.
func quoted(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// withQuoted adds to found the quoted form of each value that quoting
// changes.
func withQuoted(found []string) []string {
	for _, f := range found {
		if q := quoted(f); q != f {
			found = append(found, q)
		}
	}
	return found
}

type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

var _ interface{ Unwrap() error } = (*redactedError)(nil)
