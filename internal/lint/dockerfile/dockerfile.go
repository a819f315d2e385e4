// Package dockerfile lints Dockerfiles parsed with BuildKit's own parser
// (moby/buildkit/frontend/dockerfile/parser): CIS Docker Benchmark section
// 4 and the hadolint rules that matter for security. Nothing in the
// Dockerfile is run or fetched.
package dockerfile

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
)

// stage is one FROM … section.
type stage struct {
	index       int
	name        string // AS name, lower-case
	base        string // image as written, ARGs expanded
	fromLine    int
	user        string // last USER ("" = none in this stage)
	userLine    int
	healthcheck bool
	parent      *stage // base is an earlier stage
}

func (s *stage) subject() string {
	if s.name != "" {
		return fmt.Sprintf("stage %d (%s)", s.index, s.name)
	}
	return fmt.Sprintf("stage %d", s.index)
}

// effectiveUser is the stage's USER, inherited from an earlier stage it
// builds on.
func (s *stage) effectiveUser() (string, int) {
	for x := s; x != nil; x = x.parent {
		if x.user != "" {
			return x.user, x.userLine
		}
	}
	return "", 0
}

func (s *stage) hasHealthcheck() bool {
	for x := s; x != nil; x = x.parent {
		if x.healthcheck {
			return true
		}
	}
	return false
}

// root is the first stage of the chain: its base is an image.
func (s *stage) root() *stage {
	for s.parent != nil {
		s = s.parent
	}
	return s
}

// Looks reports whether data looks like a Dockerfile: its first
// instruction is FROM, or ARG before FROM.
func Looks(data []byte) bool {
	for _, ln := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(ln)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		w, _, _ := strings.Cut(t, " ")
		return strings.EqualFold(w, "FROM") || strings.EqualFold(w, "ARG")
	}
	return false
}

// Lint parses data (file names it in errors) and returns its hits.
func Lint(file string, data []byte) ([]rule.Hit, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, parseError(file, err)
	}
	// BuildKit's own instruction checks (arguments, flags) find what
	// `docker build` would refuse.
	if _, _, err := instructions.Parse(res.AST, nil); err != nil {
		return nil, parseError(file, err)
	}
	l := &linter{args: map[string]string{}}
	for _, n := range res.AST.Children {
		l.node(n)
	}
	if len(l.stages) == 0 {
		return nil, &rule.Error{File: file, Msg: "no FROM instruction: not a Dockerfile"}
	}
	l.final()
	return l.hits, nil
}

var lineRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)line (\d+)`) })

var parseErrPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^dockerfile parse error on line \d+: `) })

func parseError(file string, err error) error {
	e := &rule.Error{File: file, Msg: parseErrPrefix().ReplaceAllString(err.Error(), "")}
	var loc interface{ Location() []parser.Range }
	if asLoc(err, &loc) && len(loc.Location()) > 0 {
		e.Line = loc.Location()[0].Start.Line
	} else if m := lineRe().FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &e.Line)
	}
	return e
}

func asLoc(err error, target *interface{ Location() []parser.Range }) bool {
	for err != nil {
		if l, ok := err.(interface{ Location() []parser.Range }); ok {
			*target = l
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

type linter struct {
	args   map[string]string // ARG defaults (global and current stage)
	stages []*stage
	hits   []rule.Hit
}

func (l *linter) cur() *stage {
	if len(l.stages) == 0 {
		return nil
	}
	return l.stages[len(l.stages)-1]
}

func (l *linter) hit(id string, line int, subject, format string, args ...any) {
	l.hits = append(l.hits, rule.Hit{ID: id, Line: line, Subject: subject, Evidence: fmt.Sprintf(format, args...)})
}

func (l *linter) subject() string {
	if s := l.cur(); s != nil {
		return s.subject()
	}
	return "global ARGs"
}

// args of a node: the words after the instruction.
func words(n *parser.Node) []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

func flag(n *parser.Node, name string) (string, bool) {
	for _, f := range n.Flags {
		f = strings.TrimPrefix(f, "--")
		k, v, _ := strings.Cut(f, "=")
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func (l *linter) node(n *parser.Node) {
	line := n.StartLine
	switch strings.ToLower(n.Value) {
	case "arg":
		for _, w := range words(n) {
			k, v, hasValue := strings.Cut(w, "=")
			v = unquote(v)
			if _, seen := l.args[k]; !seen || hasValue {
				l.args[k] = v
			}
			if rule.SecretName(k) {
				ev := "ARG " + k
				if hasValue && v != "" {
					ev += "=" + rule.Redact(v)
				}
				l.hit(rule.DFSecretEnv, line, l.subject(), "%s (build arguments are kept in the image history)", ev)
			}
		}
	case "from":
		l.from(n)
	case "user":
		if s := l.cur(); s != nil {
			if ws := words(n); len(ws) > 0 {
				s.user, s.userLine = l.expand(ws[0]), line
			}
		}
	case "healthcheck":
		if s := l.cur(); s != nil {
			s.healthcheck = true
		}
	case "env":
		ws := words(n)
		for i := 0; i+1 < len(ws); i += 3 {
			k, v := ws[i], unquote(ws[i+1])
			if rule.SecretName(k) && v != "" && !strings.HasPrefix(v, "$") {
				l.hit(rule.DFSecretEnv, line, l.subject(), "ENV %s=%s", k, rule.Redact(v))
			}
		}
	case "add":
		l.copyLike(n, true)
	case "copy":
		l.copyLike(n, false)
	case "run":
		l.run(n)
	}
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

var varRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+]([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
})

// expand substitutes ARG values ($X, ${X}, ${X:-default}).
func (l *linter) expand(s string) string {
	return varRe().ReplaceAllStringFunc(s, func(m string) string {
		sub := varRe().FindStringSubmatch(m)
		name := sub[1] + sub[3]
		if v, ok := l.args[name]; ok && v != "" {
			return v
		}
		if strings.Contains(m, ":-") {
			return sub[2]
		}
		return m // unknown until build time
	})
}

func (l *linter) from(n *parser.Node) {
	ws := words(n)
	if len(ws) == 0 {
		return
	}
	s := &stage{index: len(l.stages), base: l.expand(ws[0]), fromLine: n.StartLine}
	if len(ws) >= 3 && strings.EqualFold(ws[1], "as") {
		s.name = strings.ToLower(ws[2])
	}
	for _, prev := range l.stages {
		if prev.name != "" && prev.name == strings.ToLower(s.base) {
			s.parent = prev
		}
	}
	l.stages = append(l.stages, s)
	if s.parent != nil || strings.EqualFold(s.base, "scratch") {
		return
	}
	ref := s.base
	switch {
	case strings.Contains(ref, "$"):
		// An ARG without a default: the image is chosen at build time.
	case !hasTag(ref) && !hasDigest(ref):
		l.hit(rule.DFUntagged, n.StartLine, s.subject(), "FROM %s has no tag (means :latest)", ws[0])
	case tagOf(ref) == "latest":
		l.hit(rule.DFLatest, n.StartLine, s.subject(), "FROM %s", ws[0])
	}
	if !strings.Contains(ref, "$") && !hasDigest(ref) {
		l.hit(rule.DFNoDigest, n.StartLine, s.subject(), "FROM %s has no @sha256: digest", ref)
	}
}

func hasDigest(ref string) bool { return strings.Contains(ref, "@sha256:") }

// tagOf is the tag of an image reference ("" when none).
func tagOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return ""
}

func hasTag(ref string) bool { return tagOf(ref) != "" }

var archiveExt = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tar.lz", ".tar.lzma"}

// secretFiles are base names (or suffixes) of files that hold credentials.
var (
	secretBase   = []string{"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env", ".npmrc", ".pypirc", ".netrc", ".git-credentials", ".dockercfg", "credentials", "credentials.json", ".htpasswd", "secrets.yaml", "secrets.yml", "secret.yaml", "kubeconfig"}
	secretSuffix = []string{".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".env"}
	secretDir    = []string{".ssh", ".aws", ".docker", ".gnupg", ".kube"}
)

func secretFile(src string) bool {
	p := path.Clean(strings.ReplaceAll(src, "\\", "/"))
	base := path.Base(p)
	if slices.Contains(secretBase, base) {
		return true
	}
	for _, s := range secretSuffix {
		if strings.HasSuffix(base, s) && base != s {
			return true
		}
	}
	for _, part := range strings.Split(p, "/") {
		if slices.Contains(secretDir, part) {
			return true
		}
	}
	return false
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

var setuidMode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^0*[2-7][0-7]{3}$`) })

func (l *linter) copyLike(n *parser.Node, isAdd bool) {
	ws := words(n)
	if n.Attributes["json"] && len(ws) > 0 {
		// exec form: words are the JSON array items
	}
	if len(ws) < 2 {
		return
	}
	srcs := ws[:len(ws)-1]
	line := n.StartLine
	subj := l.subject()
	name := "COPY"
	if isAdd {
		name = "ADD"
	}
	if mode, ok := flag(n, "chmod"); ok && setuidMode().MatchString(mode) {
		l.hit(rule.DFSetuid, line, subj, "%s --chmod=%s sets the setuid/setgid bit", name, mode)
	}
	from, hasFrom := flag(n, "from")
	if hasFrom && !isAdd {
		known := false
		for _, s := range l.stages[:max(len(l.stages)-1, 0)] {
			if s.name == strings.ToLower(from) || fmt.Sprint(s.index) == from {
				known = true
			}
		}
		if !known && !hasDigest(l.expand(from)) {
			l.hit(rule.DFCopyFromUnknown, line, subj, "COPY --from=%s is not an earlier stage and not pinned by digest", from)
		}
	}
	var local []string
	for _, src := range srcs {
		if !hasFrom && secretFile(src) {
			l.hit(rule.DFSecretFile, line, subj, "%s %s copies a credential file into the image", name, src)
		}
		if !isAdd {
			continue
		}
		switch {
		case isURL(src):
			if _, ok := flag(n, "checksum"); !ok {
				l.hit(rule.DFAddURL, line, subj, "ADD %s without --checksum", src)
			}
		case strings.HasPrefix(src, "git@") || strings.HasSuffix(src, ".git"):
		default:
			archive := false
			for _, ext := range archiveExt {
				archive = archive || strings.HasSuffix(strings.ToLower(src), ext)
			}
			if !archive {
				local = append(local, src)
			}
		}
	}
	if len(local) > 0 {
		l.hit(rule.DFAdd, line, subj, "ADD %s (not an archive to unpack nor a URL)", strings.Join(local, " "))
	}
}

// final checks the last stage: USER and HEALTHCHECK.
func (l *linter) final() {
	s := l.cur()
	user, line := s.effectiveUser()
	switch {
	case user == "":
		base := s.root().base
		if strings.Contains(tagOf(base), "nonroot") {
			break // distroless :nonroot and the like set a non-root USER
		}
		l.hit(rule.DFUser, s.fromLine, s.subject(), "the final stage sets no USER: it runs as the base image's user (%s), root unless that image sets one", base)
	case isRoot(user):
		l.hit(rule.DFUser, line, s.subject(), "USER %s", user)
	}
	if !s.hasHealthcheck() {
		l.hit(rule.DFHealthcheck, s.fromLine, s.subject(), "the final stage has no HEALTHCHECK")
	}
}

func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "root" || u == "0"
}
