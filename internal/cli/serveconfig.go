package cli

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/m2mkit/m2m/clientcred"
)

// The settings of m2m serve come from four places. A flag given on the
// command line wins; else its M2M_* environment variable; else its key in
// the --config file; else the flag's default. Each flag --foo-bar has
// exactly one variable, M2M_FOO_BAR ([envName]), and one file key,
// foo-bar: both are derived here, from the flag set, and nowhere else.

// configFlag names the flag of the config file itself (variable
// M2M_CONFIG); it cannot be set from the file.
const configFlag = "config"

// maxConfigBytes bounds a config file.
const maxConfigBytes = 1 << 20

// Where a setting came from, for the start log.
const (
	sourceDefault = "default"
	sourceFlag    = "flag"
	sourceEnv     = "env"
	sourceFile    = "file"
)

// envName returns the environment variable of the flag name:
// "token-ttl" is M2M_TOKEN_TTL.
func envName(flag string) string {
	return "M2M_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// otherCommandVars are the M2M_* variables that commands other than serve
// read; serve ignores them, and never takes one for a misspelt setting.
var otherCommandVars = []string{
	"M2M_SECRET", "M2M_SERVER", "M2M_ADMIN_TOKEN", "M2M_ADMIN_TOKEN_FILE",
	clientcred.EnvClientID, clientcred.EnvClientSecret, clientcred.EnvAudience,
	clientcred.EnvTokenURL, clientcred.EnvIssuer, clientcred.EnvDomain,
}

// settingFlags returns the flags of fs that are settings: all but --help.
func settingFlags(fs *pflag.FlagSet) []*pflag.Flag {
	var out []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			out = append(out, f)
		}
	})
	return out
}

// envInUsage matches a variable written by hand in a flag's help line:
// " (env M2M_X)" or "; env M2M_X".
var envInUsage = regexp.MustCompile(`\s*\((?:or )?env M2M_[A-Z0-9_]+\)|;\s*(?:or )?env M2M_[A-Z0-9_]+`)

// documentSettings ends the help line of every setting with its variable.
func documentSettings(fs *pflag.FlagSet) {
	for _, f := range settingFlags(fs) {
		f.Usage = envInUsage.ReplaceAllString(f.Usage, "") + " [$" + envName(f.Name) + "]"
	}
}

// rawValue returns the flag's own value under a collectingValue, so that
// the environment and file layers report their errors themselves.
func rawValue(f *pflag.Flag) pflag.Value {
	if cv, ok := f.Value.(*collectingValue); ok {
		return cv.Value
	}
	return f.Value
}

// resolveSettings fills the flags of fs not given on the command line
// from the environment, then from the config file (--config or
// M2M_CONFIG), and returns where each setting came from and every problem
// found: a bad value, an unknown file key, an M2M_* variable that looks
// like a misspelt setting, an unreadable file.
func resolveSettings(env *Env, fs *pflag.FlagSet) (sources map[string]string, errs []error) {
	flags := settingFlags(fs)
	sources = make(map[string]string, len(flags))
	known := make(map[string]*pflag.Flag, len(flags))
	for _, f := range flags {
		known[f.Name] = f
		if f.Changed {
			sources[f.Name] = sourceFlag
		}
	}
	// The environment: a variable set to the empty string counts as unset.
	for _, f := range flags {
		if f.Changed {
			continue
		}
		v, ok := env.Lookup(envName(f.Name))
		if !ok || v == "" {
			continue
		}
		if err := rawValue(f).Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", envName(f.Name), describeSetError(f, v, err)))
			continue
		}
		sources[f.Name] = sourceEnv
	}
	errs = append(errs, unknownVariables(env, flags)...)

	// The file.
	path := known[configFlag].Value.String()
	if path == "" {
		return sources, errs
	}
	values, fileErrs := readConfigFile(path, known)
	errs = append(errs, fileErrs...)
	for _, kv := range values {
		if _, set := sources[kv.flag.Name]; set {
			continue // the command line or the environment wins
		}
		if err := rawValue(kv.flag).Set(kv.value); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s", path, kv.line, kv.flag.Name, describeSetError(kv.flag, kv.value, err)))
			continue
		}
		sources[kv.flag.Name] = sourceFile
	}
	return sources, errs
}

// listSettings take a comma-separated list: in the file, a YAML list or
// one string.
var listSettings = []string{"trusted-proxies"}

// describeSetError is the message for a value the flag refused; it
// repeats the value only when the setting holds no secret.
func describeSetError(f *pflag.Flag, value string, err error) string {
	if slices.Contains(secretSettings, f.Name) {
		return "invalid value"
	}
	return fmt.Sprintf("invalid value %q: %v", value, err)
}

// unknownVariables reports every M2M_* variable of the environment that
// no command reads and that looks like a serve setting: it differs from a
// setting's variable by at most two letters, or one of the two names
// begins with the other (M2M_TOKEN_TTLS, M2M_LOGLEVEL, M2M_DATA_DIR).
// Variables under M2M_TEST_ belong to the test suites.
func unknownVariables(env *Env, flags []*pflag.Flag) []error {
	names := make([]string, 0, len(flags))
	for _, f := range flags {
		names = append(names, envName(f.Name))
	}
	var errs []error
	for _, kv := range env.Environment() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "M2M_") || strings.HasPrefix(name, "M2M_TEST_") ||
			slices.Contains(names, name) || slices.Contains(otherCommandVars, name) {
			continue
		}
		if near := nearestSetting(name, names); near != "" {
			errs = append(errs, fmt.Errorf("%s: not a setting of m2m serve (did you mean %s?)", name, near))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// nearestSetting returns the variable of names that name looks like a
// misspelling of, or "".
func nearestSetting(name string, names []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.TrimPrefix(s, "M2M_"), "_", "") }
	n := norm(name)
	for _, cand := range names {
		c := norm(cand)
		if editDistance(n, c) <= 2 || (len(c) >= 4 && strings.HasPrefix(n, c)) || (len(n) >= 4 && strings.HasPrefix(c, n)) {
			return cand
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of two short ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fileValue is one setting of the config file, in the form its flag's Set
// reads.
type fileValue struct {
	flag  *pflag.Flag
	value string
	line  int
}

// readConfigFile reads the YAML config file at path: one mapping whose
// keys are flag names. It returns the values in file order and every
// problem: an unknown or repeated key, a value of the wrong shape, a
// missing value.
func readConfigFile(path string, known map[string]*pflag.Flag) ([]fileValue, []error) {
	b, err := readConfigBytes(path)
	if err != nil {
		return nil, []error{fmt.Errorf("--config: %w", err)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, []error{fmt.Errorf("%s: %v", path, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, []error{fmt.Errorf("%s: want one YAML document", path)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, []error{fmt.Errorf("%s:%d: want a mapping of setting names to values", path, root.Line)}
	}
	var (
		values []fileValue
		errs   []error
		seen   = map[string]int{}
	)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", path, k.Line, fmt.Sprintf(format, args...)))
		}
		if k.Kind != yaml.ScalarNode {
			bad("want a setting name")
			continue
		}
		name := k.Value
		f := known[name]
		switch {
		case name == configFlag:
			bad("%s: cannot be set in the config file", name)
			continue
		case f == nil:
			bad("unknown key %q%s", name, didYouMean(name, known))
			continue
		}
		if first, dup := seen[name]; dup {
			bad("%s: repeated (first at line %d)", name, first)
			continue
		}
		seen[name] = k.Line
		value, err := yamlFlagValue(f, v)
		if err != nil {
			bad("%s: %v", name, err)
			continue
		}
		values = append(values, fileValue{flag: f, value: value, line: k.Line})
	}
	return values, errs
}

func readConfigBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfigBytes)
	}
	return b, nil
}

func didYouMean(name string, known map[string]*pflag.Flag) string {
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if k != configFlag && (editDistance(name, k) <= 2 || strings.ReplaceAll(name, "_", "-") == k) {
			return fmt.Sprintf(" (did you mean %s?)", k)
		}
	}
	return ""
}

// yamlFlagValue turns the YAML value of a setting into the string its
// flag's Set reads: a scalar for most flags, a mapping for a KEY=VALUE
// flag (audience-profile), a scalar or a list for a comma-separated one
// (trusted-proxies). A null value (the key with nothing after it) is
// refused: it would otherwise silently mean the default.
func yamlFlagValue(f *pflag.Flag, v *yaml.Node) (string, error) {
	if v.Kind == yaml.AliasNode {
		return "", errors.New("aliases are not supported")
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return "", errors.New("no value (remove the key for the default)")
	}
	switch f.Value.Type() {
	case "stringToString":
		if v.Kind != yaml.MappingNode {
			return "", errors.New("want a mapping of KEY: VALUE")
		}
		var rec []string
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, val := v.Content[i], v.Content[i+1]
			if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
				return "", errors.New("want a mapping of KEY: VALUE")
			}
			rec = append(rec, k.Value+"="+val.Value)
		}
		if len(rec) == 0 {
			return "", nil
		}
		var b strings.Builder
		w := csv.NewWriter(&b)
		if err := w.Write(rec); err != nil {
			return "", err
		}
		w.Flush()
		return strings.TrimSuffix(b.String(), "\n"), nil
	}
	if slices.Contains(listSettings, f.Name) {
		if v.Kind == yaml.SequenceNode {
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
					return "", errors.New("want a list of values")
				}
				items = append(items, it.Value)
			}
			return strings.Join(items, ","), nil
		}
	}
	if v.Kind != yaml.ScalarNode {
		return "", errors.New("want a single value")
	}
	return v.Value, nil
}
