package dynamic

import "time"

// fixedMS returns a clock stopped at ms.
func fixedMS(ms int64) func() time.Time {
	t := time.UnixMilli(ms)
	return func() time.Time { return t }
}
