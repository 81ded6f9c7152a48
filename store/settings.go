package store

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// Settings stores server-wide settings: a few named values that every
// replica sharing the database must agree on, such as the issuer the
// database serves (see authserver.CheckIssuer).
type Settings interface {
	// GetSetting returns the value of the setting name, or an error
	// wrapping [ErrNotFound] when it has none.
	GetSetting(ctx context.Context, name string) (string, error)
	// UpdateSetting calls update with the setting's current value (found
	// is false when it has none) and stores what update returns,
	// atomically: concurrent UpdateSetting calls on one name queue, and
	// each sees the value the previous one stored. An error from update
	// aborts (nothing is stored) and is returned as is. UpdateSetting
	// returns the value stored. A name or value that [CheckSetting]
	// refuses is an error.
	UpdateSetting(ctx context.Context, name string, update func(value string, found bool) (string, error)) (string, error)
}

// Bounds on settings, which backends enforce with [CheckSetting].
const (
	MaxSettingName  = 64
	MaxSettingValue = 4096
)

// CheckSetting refuses a setting name that is empty, longer than
// [MaxSettingName] bytes or not ASCII letters, digits, '_', '-' and '.',
// and a value longer than [MaxSettingValue] bytes or not valid UTF-8.
func CheckSetting(name, value string) error {
	if name == "" || len(name) > MaxSettingName {
		return fmt.Errorf("store: setting name of %d bytes; want 1 to %d", len(name), MaxSettingName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("store: setting name %q: want ASCII letters, digits, '_', '-' or '.'", name)
		}
	}
	if len(value) > MaxSettingValue {
		return fmt.Errorf("store: setting %s: value of %d bytes; want at most %d", name, len(value), MaxSettingValue)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("store: setting %s: value is not valid UTF-8", name)
	}
	return nil
}
