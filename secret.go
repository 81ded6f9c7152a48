package m2m

import (
	"fmt"
	"log/slog"
)

// Secret holds key material or a password. Its String, GoString, Format,
// MarshalText and LogValue methods redact it, so a Secret printed (with
// any fmt verb, including %x and %d), marshalled or logged by mistake
// shows "[REDACTED]"; use the bytes directly where the value is needed.
type Secret []byte

const redacted = "[REDACTED]"

var (
	_ fmt.Stringer   = Secret(nil)
	_ fmt.GoStringer = Secret(nil)
	_ fmt.Formatter  = Secret(nil)
	_ slog.LogValuer = Secret(nil)
)

// String returns "[REDACTED]".
func (Secret) String() string { return redacted }

// GoString returns "[REDACTED]", for the %#v verb.
func (Secret) GoString() string { return redacted }

// Format writes "[REDACTED]" for every verb, so that %x, %X, %d and %q
// cannot print the bytes either (without it, fmt formats a byte slice
// element by element for verbs other than %v and %s).
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue returns "[REDACTED]" for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[REDACTED]", so encoding/json and other text
// encoders never write the bytes.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
