package m2m_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/m2mkit/m2m/internal/cli"
)

// TestDocs keeps README.md and the manual (docs/*.md, SECURITY.md,
// BENCHMARKS.md) true to the code. The rule, per fenced code block:
//
//   - ```go: the block, with every run of white space made one space, must
//     appear in the source of a function named Example… or Test… in a
//     _test.go file of this module (comments included). Mirror a new
//     snippet in an Example (docs_example_test.go in its package, with
//     // Output: when the result is deterministic); the compiler then checks
//     the snippet and the test checks that the text did not drift.
//   - ```sh and ```console (lines starting with "$ "): every command that
//     runs m2m (m2m …, go run ./cmd/m2m …, also inside $(…), after a pipe
//     or sudo -u USER) must parse with the real command tree: the
//     subcommand exists and runs, every flag exists and its value parses,
//     the positional arguments are accepted, required flags are present.
//     Every ./path given to go (go run ./examples/api) must exist. Other
//     programs (curl, jq, export) are not checked. Synopses with
//     placeholders such as [--flag] belong in ```text blocks.
//   - ```json: valid JSON.
//   - every other language (text, python, rust, …): not checked; use it
//     for output, configuration files of other programs and the original
//     systems' code.
//
// Besides the blocks: every relative link resolves to a file, and a
// #fragment to a heading of that file; README.md stays under 15 KiB,
// starts with the two commands, and names the Go version of go.mod.
//
// The README's quick start is also run end to end by
// internal/cli/testdata/script_serve/readme_quickstart.txtar.
func TestDocs(t *testing.T) {
	files := docFiles(t)
	funcs := exampleSources(t)
	for _, file := range files {
		blocks, err := fencedBlocks(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			var problems []string
			switch b.lang {
			case "go":
				problems = checkGoBlock(b, funcs)
			case "sh", "bash", "shell":
				problems = checkShellBlock(b.text, false)
			case "console":
				problems = checkShellBlock(b.text, true)
			case "json":
				if !json.Valid([]byte(b.text)) {
					problems = []string{"not valid JSON"}
				}
			}
			for _, p := range problems {
				t.Errorf("%s:%d: ```%s block: %s", file, b.line, b.lang, p)
			}
		}
	}
}

// TestCLIReference checks the tables of docs/cli.md: every --flag named in
// a row exists on the command (or one of the commands, "a|b") the row
// starts with.
func TestCLIReference(t *testing.T) {
	lines, err := readLines("docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	rowRE := regexp.MustCompile("^\\| `m2m ([a-z -]+(?:\\\\\\|[a-z-]+)*)")
	flagRE := regexp.MustCompile(`--[a-z][a-z0-9-]*`)
	rows := 0
	for i, line := range lines {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		words := strings.Fields(m[1])
		last := strings.Split(words[len(words)-1], `\|`)
		var cmds [][]string
		for _, sub := range last {
			cmds = append(cmds, append(append([]string{}, words[:len(words)-1]...), sub))
		}
		for _, flag := range flagRE.FindAllString(line, -1) {
			found := false
			for _, path := range cmds {
				root := cli.Root(&cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard})
				cmd, _, err := root.Find(path)
				if err != nil || cmd == root {
					t.Errorf("docs/cli.md:%d: no command m2m %s", i+1, strings.Join(path, " "))
					found = true
					break
				}
				f := cmd.Flags().Lookup(flag[2:])
				if f == nil {
					f = cmd.InheritedFlags().Lookup(flag[2:])
				}
				if f != nil && f.Name == flag[2:] && !f.Hidden && f.Deprecated == "" {
					found = true
				}
			}
			if !found {
				t.Errorf("docs/cli.md:%d: m2m %s has no flag %s", i+1, m[1], flag)
			}
		}
	}
	if rows < 10 {
		t.Errorf("docs/cli.md: found %d command rows; the table format changed?", rows)
	}
}

// TestDocsLinks checks every relative link of the docs and its #fragment.
func TestDocsLinks(t *testing.T) {
	linkRE := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, file := range docFiles(t) {
		lines, err := readLines(file)
		if err != nil {
			t.Fatal(err)
		}
		inFence := false
		for i, line := range lines {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inFence = !inFence
			}
			if inFence {
				continue
			}
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, frag, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), path)
				}
				st, err := os.Stat(dest)
				if err != nil {
					t.Errorf("%s:%d: link %s: %v", file, i+1, target, err)
					continue
				}
				if frag == "" {
					continue
				}
				if st.IsDir() || !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s:%d: link %s: a #fragment needs a Markdown file", file, i+1, target)
					continue
				}
				anchors, err := headingAnchors(dest)
				if err != nil {
					t.Fatal(err)
				}
				if !anchors[frag] {
					t.Errorf("%s:%d: link %s: %s has no heading with anchor #%s", file, i+1, target, dest, frag)
				}
			}
		}
	}
}

// TestReadme checks the README's shape: the two commands first, a size a
// newcomer reads in five minutes, the Go version it needs.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 15<<10 {
		t.Errorf("README.md is %d bytes; keep it under 15 KiB and move the rest to docs/", len(b))
	}
	const start = "# m2m\n\n```sh\n" +
		"go run ./cmd/m2m serve   # start the token server: 127.0.0.1:8080, embedded SQLite in ./m2m-data, nothing else to install\n" +
		"go test ./...            # run the tests (needs only Go; PostgreSQL, Redis, npm and Chromium peer tests skip unless set up)\n```\n"
	if !strings.HasPrefix(string(b), start) {
		t.Errorf("README.md does not start with the two commands:\n%s", start)
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if want := "Go " + string(m[1]); !strings.Contains(string(b), want+" ") {
		t.Errorf("README.md does not name the Go version of go.mod (%q)", want)
	}
}

func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "SECURITY.md", "BENCHMARKS.md"}
	more, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append(files, more...)
}

func readLines(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return strings.Split(string(b), "\n"), nil
}

type block struct {
	lang string
	line int // the line of the opening fence, 1-based
	text string
}

// fencedBlocks returns the fenced code blocks of a Markdown file. A fence
// may be indented (inside a list item); the indentation is removed from the
// block's lines.
func fencedBlocks(file string) ([]block, error) {
	lines, err := readLines(file)
	if err != nil {
		return nil, err
	}
	var blocks []block
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		indent := len(lines[i]) - len(trimmed)
		b := block{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: i + 1}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
				l = l[indent:]
			}
			body = append(body, l)
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: unclosed code block", file, b.line)
		}
		b.text = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// exampleSources returns the source of every Example… and Test… function
// of the module's _test.go files, white space normalised.
func exampleSources(t *testing.T) []string {
	t.Helper()
	var srcs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Recv != nil ||
				!(strings.HasPrefix(fn.Name.Name, "Example") || strings.HasPrefix(fn.Name.Name, "Test")) {
				continue
			}
			from, to := fset.Position(fn.Pos()).Offset, fset.Position(fn.End()).Offset
			srcs = append(srcs, normalize(string(src[from:to])))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return srcs
}

// normalize makes every run of white space one space.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

func checkGoBlock(b block, funcs []string) []string {
	want := normalize(b.text)
	for _, f := range funcs {
		if strings.Contains(f, want) {
			return nil
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(b.text), "\n")
	return []string{fmt.Sprintf("not found in any Example or Test function (white space normalised); mirror it in an Example. It starts: %s", first)}
}

// checkShellBlock checks every m2m command of a shell block. In a console
// block only the lines that start with "$ " are commands.
func checkShellBlock(text string, console bool) []string {
	var problems []string
	for _, line := range shellLines(text, console) {
		cmds, err := shellCommands(line)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", line, err))
			continue
		}
		for _, words := range cmds {
			if err := checkCommand(words); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", strings.Join(words, " "), err))
			}
		}
	}
	return problems
}

// shellLines joins continuation lines and drops comments-only and empty
// lines (and, in a console block, output lines).
func shellLines(text string, console bool) []string {
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		if cur.Len() == 0 {
			if console {
				rest, ok := strings.CutPrefix(l, "$ ")
				if !ok {
					continue
				}
				l = rest
			}
			if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// shellCommands splits one shell line into simple commands (their words,
// quotes removed). Commands inside $(…) are returned too, and the
// substitution itself stands in its word as "$(…)". |, ||, &&, ; and &
// separate commands; redirections and their targets are dropped; a #
// at the start of a word starts a comment.
func shellCommands(line string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	skipTarget := false // the next word is a redirection target
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unclosed '")
			}
			word.WriteString(string(rs[i+1 : j]))
			inWord = true
			i = j
		case c == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
					word.WriteRune(rs[j])
					continue
				}
				if rs[j] == '$' && j+1 < len(rs) && rs[j+1] == '(' {
					end, inner, err := substitution(rs, j)
					if err != nil {
						return nil, err
					}
					cmds = append(cmds, inner...)
					word.WriteString("$(…)")
					j = end
					continue
				}
				word.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unclosed \"")
			}
			inWord = true
			i = j
		case c == '\\' && i+1 < len(rs):
			i++
			word.WriteRune(rs[i])
			inWord = true
		case c == '$' && i+1 < len(rs) && rs[i+1] == '(':
			end, inner, err := substitution(rs, i)
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, inner...)
			word.WriteString("$(…)")
			inWord = true
			i = end
		case c == '#' && !inWord:
			i = len(rs)
		case unicode.IsSpace(c):
			if skipTarget && inWord {
				word.Reset()
				inWord = false
				skipTarget = false
				continue
			}
			endWord()
		case c == '|' || c == ';' || c == '&':
			if c == '&' && i > 0 && rs[i-1] == '>' {
				continue // >&
			}
			endCmd()
			if i+1 < len(rs) && (rs[i+1] == c) {
				i++
			}
		case c == '>' || c == '<':
			// A word of digits before it is a file descriptor.
			if inWord && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset()
				inWord = false
			}
			endWord()
			for i+1 < len(rs) && (rs[i+1] == '>' || rs[i+1] == '&') {
				i++
			}
			// ">&1" and "2>&1" need no target word.
			if i+1 < len(rs) && unicode.IsDigit(rs[i+1]) && rs[i] == '&' {
				i++
				continue
			}
			skipTarget = true
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	if skipTarget {
		word.Reset()
		inWord = false
	}
	endCmd()
	return cmds, nil
}

// substitution parses the $(…) that starts at rs[i]; it returns the index
// of its closing parenthesis and its commands.
func substitution(rs []rune, i int) (int, [][]string, error) {
	depth := 0
	inSingle, inDouble := false, false
	for j := i + 1; j < len(rs); j++ {
		switch c := rs[j]; {
		case inSingle:
			if c == '\'' {
				inSingle = false
			}
		case c == '\'' && !inDouble:
			inSingle = true
		case c == '"':
			inDouble = !inDouble
		case c == '(' && !inDouble:
			depth++
		case c == ')' && !inDouble:
			depth--
			if depth == 0 {
				inner, err := shellCommands(string(rs[i+2 : j]))
				return j, inner, err
			}
		}
	}
	return 0, nil, fmt.Errorf("unclosed $(")
}

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// checkCommand checks one simple command: m2m's arguments against the
// command tree, go's ./paths against the file system.
func checkCommand(words []string) error {
	for len(words) > 0 && envAssignment.MatchString(words[0]) {
		words = words[1:]
	}
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
		for len(words) > 1 && words[0] == "-u" {
			words = words[2:]
		}
	}
	if len(words) == 0 {
		return nil
	}
	switch {
	case words[0] == "m2m":
		return checkM2M(words[1:])
	case len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/m2m":
		return checkM2M(words[3:])
	case words[0] == "go":
		for _, w := range words[1:] {
			if p, ok := strings.CutPrefix(w, "./"); ok {
				p = strings.TrimSuffix(strings.TrimSuffix(p, "..."), "/")
				if p == "" {
					p = "."
				}
				if _, err := os.Stat(p); err != nil {
					return fmt.Errorf("go: %v", err)
				}
			}
		}
	}
	return nil
}

// checkM2M parses args as the m2m command line would, without running
// anything.
func checkM2M(args []string) error {
	root := cli.Root(&cli.Env{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("m2m %s: %v", cmd.Name(), err)
	}
	// An old spelling kept for published examples (a hidden flag, or a
	// name the flag set normalizes to another) is not for the docs: they
	// use the one spelling --help shows.
	var hidden []string
	normalize := cmd.Flags().GetNormalizeFunc()
	for _, a := range rest {
		if a == "--" {
			break
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		f := cmd.Flags().Lookup(name)
		if f == nil {
			continue
		}
		if f.Hidden || f.Deprecated != "" || string(normalize(cmd.Flags(), name)) != name {
			hidden = append(hidden, "--"+name)
		}
	}
	if len(hidden) > 0 {
		return fmt.Errorf("%s: %s is an old spelling; use the one --help shows", cmd.CommandPath(), strings.Join(hidden, ", "))
	}
	if h, err := cmd.Flags().GetBool("help"); err == nil && h {
		return nil
	}
	if cmd == root {
		if v, err := cmd.Flags().GetBool("version"); err == nil && v {
			return nil
		}
	}
	if !cmd.Runnable() || cmd.HasAvailableSubCommands() {
		return fmt.Errorf("%q is a command group, not a command", cmd.CommandPath())
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("%s: %v", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return fmt.Errorf("%s: %v", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return fmt.Errorf("%s: %v", cmd.CommandPath(), err)
	}
	return nil
}

// headingAnchors returns the GitHub anchors of a Markdown file's headings.
func headingAnchors(file string) (map[string]bool, error) {
	lines, err := readLines(file)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		a := githubAnchor(h)
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors, nil
}

// githubAnchor is GitHub's heading slug: lower case, letters, digits, '-'
// and '_' kept, spaces made '-', everything else dropped.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// TestShellCommands pins the shell splitting the docs check relies on.
func TestShellCommands(t *testing.T) {
	tests := []struct {
		name, line string
		want       [][]string
	}{
		{"plain", `m2m serve --addr 127.0.0.1:8080`, [][]string{{"m2m", "serve", "--addr", "127.0.0.1:8080"}}},
		{"quotes", `m2m client create --scope "a b" --name 'x y'`, [][]string{{"m2m", "client", "create", "--scope", "a b", "--name", "x y"}}},
		{"comment", `m2m key list # kid, alg`, [][]string{{"m2m", "key", "list"}}},
		{"background", `m2m serve &`, [][]string{{"m2m", "serve"}}},
		{"pipe", `printf '%s\n' "$PW" | m2m basic hash --user admin >> htpasswd`, [][]string{{"printf", `%s\n`, "$PW"}, {"m2m", "basic", "hash", "--user", "admin"}}},
		{"substitution", `TOKEN=$(m2m jwt issue --sub a --ttl 15m)`, [][]string{{"m2m", "jwt", "issue", "--sub", "a", "--ttl", "15m"}, {"TOKEN=$(…)"}}},
		{"quoted substitution", `curl -u "$(jq -r .id c.json):x" URL`, [][]string{{"jq", "-r", ".id", "c.json"}, {"curl", "-u", "$(…):x", "URL"}}},
		{"redirections", `m2m token --json > out.json 2>&1; echo "exit $?"`, [][]string{{"m2m", "token", "--json"}, {"echo", "exit $?"}}},
		{"and", `m2m secret init --file a && m2m secret rotate --file a`, [][]string{{"m2m", "secret", "init", "--file", "a"}, {"m2m", "secret", "rotate", "--file", "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shellCommands(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("shellCommands(%q) = %q; want %q", tt.line, got, tt.want)
			}
		})
	}
}

// TestCheckM2M shows that the docs check refuses what the command line
// refuses.
func TestCheckM2M(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
	}{
		{`m2m serve --addr 127.0.0.1:8080`, true},
		{`m2m --help`, true},
		{`m2m client create --help`, true},
		{`m2m serve --no-such-flag`, false},
		{`m2m basic hash --cost many`, false},
		{`m2m jwt verify --alg HS256 --token x`, false}, // a hidden old spelling
		{`m2m no-such-command`, false},
		{`m2m client`, false},
		{`m2m client crate --name x`, false},
		{`go run ./cmd/m2m serve --adr :1`, false},
		{`go run ./no/such/dir`, false},
		{`curl --anything http://x`, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmds, err := shellCommands(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			err = checkCommand(cmds[0])
			if (err == nil) != tt.ok {
				t.Errorf("checkCommand(%q) = %v; want ok %v", tt.line, err, tt.ok)
			}
		})
	}
}
