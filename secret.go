package m2m

import "log/slog"

// Secret holds key material or a password. Its String, GoString and
// LogValue methods redact it, so a Secret printed or logged by mistake
// shows "[REDACTED]"; use the bytes directly where the value is needed.
type Secret []byte

const redacted = "[REDACTED]"

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
