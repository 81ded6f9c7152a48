package cli

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m"
)

// hiddenAliases makes the old spellings of renamed flags of c keep
// working without showing them in its help: each key of old is a former
// name, its value the flag's one name. Only spellings that a published
// example used are kept this way (TestFlagSpellings lists them).
func hiddenAliases(c *cobra.Command, old map[string]string) {
	c.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := old[name]; ok {
			return pflag.NormalizedName(n)
		}
		return pflag.NormalizedName(name)
	})
}

// durationValue is a flag holding a time.Duration written as Go writes
// one (90s, 15m, 1h30m). A flag that used to take a number of seconds
// also reads a number without a unit as seconds (bare), the form its
// published examples were written in (rolling --ttl 3, scoped issue
// --max-age 360, scoped verify --max-age 60).
type durationValue struct {
	d    *time.Duration
	bare bareSeconds
}

// bareSeconds says whether a duration flag reads a number without a unit
// as seconds.
type bareSeconds int

const (
	noBareSeconds   bareSeconds = iota // units required
	wholeSeconds                       // also an integer: 3 is 3s
	fractionSeconds                    // also a decimal: 0.5 is 500ms
)

// durationVar defines a duration flag; see durationValue.
func durationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, bare bareSeconds, usage string) {
	*p = value
	fs.Var(&durationValue{d: p, bare: bare}, name, usage)
}

func (v *durationValue) Type() string { return "duration" }

func (v *durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

// maxBareSeconds keeps a bare number of seconds inside a time.Duration.
const maxBareSeconds = float64(math.MaxInt64/int64(time.Second)) - 1

func (v *durationValue) Set(s string) error {
	if d, err := time.ParseDuration(s); err == nil {
		*v.d = d
		return nil
	}
	switch v.bare {
	case wholeSeconds:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && math.Abs(float64(n)) <= maxBareSeconds {
			*v.d = time.Duration(n) * time.Second
			return nil
		}
	case fractionSeconds:
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsNaN(f) && math.Abs(f) <= maxBareSeconds && !strings.ContainsAny(s, "xXpPnN_") {
			*v.d = time.Duration(math.Round(f * float64(time.Second)))
			return nil
		}
	}
	return fmt.Errorf("want a duration such as 90s, 15m or 1h30m")
}

// zeroAnnotation marks a flag whose explicit zero value refuseZero
// refuses.
const zeroAnnotation = "m2m:zero-refused"

// refuseZero makes c refuse, as a usage error naming the flag, the flags
// in reasons when they are given their type's zero value ("", 0, 0s) on
// the command line: the code they feed reads zero as "use the default",
// and an explicit zero must never silently become the default. A reason
// says what to do instead; "" gives the generic advice. Flags whose zero
// means zero are not listed here but made to mean it where they are read.
func refuseZero(c *cobra.Command, reasons map[string]string) {
	for name := range reasons {
		fl := c.Flags().Lookup(name)
		if fl == nil {
			panic("refuseZero: no flag --" + name + " on " + c.Name())
		}
		if fl.Annotations == nil {
			fl.Annotations = map[string][]string{}
		}
		fl.Annotations[zeroAnnotation] = []string{"true"}
	}
	next := c.PreRunE
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if err := explicitZero(cmd, reasons); err != nil {
			return err
		}
		if next != nil {
			return next(cmd, args)
		}
		return nil
	}
}

// explicitZero reports every flag of reasons given its zero value, all at
// once, as a usage error.
func explicitZero(cmd *cobra.Command, reasons map[string]string) error {
	var problems []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		why, ok := reasons[f.Name]
		if !ok || !isZeroValue(f) {
			return
		}
		if why == "" {
			why = "leave the flag out for its default, or give a value"
		}
		problems = append(problems, fmt.Sprintf("--%s %s: %s", f.Name, zeroSpelling(f), why))
	})
	if len(problems) > 0 {
		return Usage("%s", strings.Join(problems, "; "))
	}
	return nil
}

func isZeroValue(f *pflag.Flag) bool {
	switch v := f.Value.(type) {
	case *durationValue:
		return *v.d == 0
	case pflag.SliceValue:
		for _, s := range v.GetSlice() {
			if strings.TrimSpace(s) != "" {
				return false
			}
		}
		return true
	}
	switch f.Value.Type() {
	case "string":
		return f.Value.String() == ""
	case "int", "int64", "float64", "duration":
		s := f.Value.String()
		return s == "0" || s == "0s"
	}
	return false
}

func zeroSpelling(f *pflag.Flag) string {
	if f.Value.Type() == "string" || strings.HasSuffix(f.Value.Type(), "Array") || strings.HasSuffix(f.Value.Type(), "Slice") {
		return `""`
	}
	return f.Value.String()
}

// scopeFlag parses the values of a repeatable scope flag, each one scope
// or several separated by spaces, with [m2m.ParseScope]: the one scope
// grammar of every entry point (RFC 6749 section 3.3 tokens). Duplicates
// are kept once. A malformed value is a usage error naming the flag.
func scopeFlag(name string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		toks, err := m2m.ParseScope(v)
		if err != nil {
			return nil, Usage("--%s %q: want scopes of printable ASCII without '\"' or '\\', separated by spaces (RFC 6749 section 3.3), each at most %d bytes", name, v, m2m.MaxScopeTokenBytes)
		}
		for _, t := range toks {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// secretTooShort is the refusal of a secret shorter than min bytes, naming
// where it came from: the --secret-file path, else M2M_SECRET.
func secretTooShort(path string, n, min int) error {
	from := "M2M_SECRET"
	if path != "" {
		from = "--secret-file " + path
	}
	return fmt.Errorf("the secret in %s is %d bytes; want at least %d (make one with: m2m secret init --secret-file PATH)", from, n, min)
}
