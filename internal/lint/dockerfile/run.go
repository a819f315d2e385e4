package dockerfile

import (
	"regexp"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
)

// script is a RUN's shell text: the command (shell or exec form) and its
// heredocs.
func script(n *parser.Node) string {
	var b strings.Builder
	b.WriteString(strings.Join(words(n), " "))
	for _, h := range n.Heredocs {
		b.WriteByte('\n')
		b.WriteString(h.Content)
	}
	return b.String()
}

// insecureFetch is a RUN pattern that turns off a download's checks.
type insecureFetch struct {
	re   *regexp.Regexp
	what string
}

var (
	// A download piped (or substituted) into an interpreter.
	pipeShell = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\b(curl|wget)\b[^|;&\n]*\|\s*(sudo\s+(-\S+\s+)*)?(env\s+\S+=\S+\s+)*(/usr)?(/bin/)?(ba|z|da|k|fi)?sh\b|\b(curl|wget)\b[^|;&\n]*\|\s*(sudo\s+)?(python[0-9.]*|perl|ruby|node)\b|\b(ba|z|da)?sh\s+(-c\s+)?["']?\$\(\s*(curl|wget)\b|\b(ba|z|da)?sh\s+<\(\s*(curl|wget)\b`)
	})
	sudoRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(^|[;&|(\n])\s*sudo\s`) })
	insecure = sync.OnceValue(func() []insecureFetch {
		return []insecureFetch{
			{regexp.MustCompile(`\bcurl\b[^;&|\n]*\s(-k|--insecure|-[a-zA-Z]*k[a-zA-Z]*)(\s|$)`), "curl --insecure"},
			{regexp.MustCompile(`\bwget\b[^;&|\n]*\s--no-check-certificate\b`), "wget --no-check-certificate"},
			{regexp.MustCompile(`\bpip[0-9.]*\b[^;&|\n]*\s--trusted-host\b`), "pip --trusted-host"},
			{regexp.MustCompile(`\bgit\b[^;&|\n]*http\.sslVerify[= ]false`), "git http.sslVerify=false"},
			{regexp.MustCompile(`\bnpm\s+config\s+set\s+strict-ssl\s+false\b`), "npm strict-ssl false"},
			{regexp.MustCompile(`\bapk\b[^;&|\n]*\s--allow-untrusted\b`), "apk --allow-untrusted"},
			{regexp.MustCompile(`\bapt(-get)?\b[^;&|\n]*\s(--allow-unauthenticated|--allow-insecure-repositories)\b`), "apt --allow-unauthenticated"},
		}
	})
	chmodSetuid = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\bchmod\s+(-\S+\s+)*([ugoa]*[+=][rwxXt]*s[rwxXst]*|0*[2-7][0-7]{3})(\s|$)`)
	})
)

// commands splits a script into simple commands, each as words.
func commands(s string) [][]string {
	var out [][]string
	var cur []string
	var word strings.Builder
	inWord := false
	var quote byte
	flushWord := func() {
		if inWord {
			cur = append(cur, word.String())
			word.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == ' ' || c == '\t':
			flushWord()
		case c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
			flushCmd()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return out
}

func (l *linter) run(n *parser.Node) {
	text := script(n)
	line := n.StartLine
	subj := l.subject()
	if m := pipeShell().FindString(text); m != "" {
		l.hit(rule.DFPipeShell, line, subj, "RUN %s", strings.TrimSpace(m))
	}
	if sudoRe().MatchString(text) {
		l.hit(rule.DFSudo, line, subj, "RUN uses sudo")
	}
	for _, in := range insecure() {
		if in.re.MatchString(text) {
			l.hit(rule.DFInsecureFetch, line, subj, "RUN uses %s", in.what)
		}
	}
	if m := chmodSetuid().FindStringSubmatch(text); m != nil {
		l.hit(rule.DFSetuid, line, subj, "RUN chmod %s sets the setuid/setgid bit", m[2])
	}
	cmds := commands(text)
	updates, installs := 0, 0
	for _, c := range cmds {
		c = stripPrefix(c)
		if len(c) == 0 {
			continue
		}
		switch tool := baseName(c[0]); tool {
		case "apt-get", "apt":
			sub := subcommand(c[1:])
			switch sub {
			case "update":
				updates++
			case "install":
				installs++
				l.aptInstall(c, line, subj, tool)
			case "upgrade", "dist-upgrade", "full-upgrade", "build-dep", "source":
				installs++
			}
		case "apk":
			switch subcommand(c[1:]) {
			case "update":
				if !contains(c, "--no-cache") {
					updates++
				}
			case "add":
				installs++
				l.apkAdd(c, line, subj)
			case "upgrade", "fix":
				installs++
			}
		case "yum", "dnf", "microdnf", "zypper":
			switch subcommand(c[1:]) {
			case "makecache", "refresh", "ref":
				updates++
			default:
				installs++
			}
		case "pip", "pip3", "pip2":
			if subcommand(c[1:]) == "install" {
				l.pipInstall(c, line, subj)
			}
		case "python", "python3":
			// python -m pip install …
			for i := 1; i+2 < len(c); i++ {
				if c[i] == "-m" && strings.HasPrefix(c[i+1], "pip") && c[i+2] == "install" {
					l.pipInstall(c[i+1:], line, subj)
					break
				}
			}
		}
	}
	if updates > 0 && installs == 0 {
		l.hit(rule.DFUpdateAlone, line, subj, "RUN updates the package index without installing in the same step")
	}
}

// stripPrefix drops env assignments and wrappers before the command.
func stripPrefix(c []string) []string {
	for len(c) > 0 {
		switch {
		case strings.Contains(c[0], "=") && !strings.HasPrefix(c[0], "-"):
			c = c[1:]
		case c[0] == "sudo" || c[0] == "env" || c[0] == "exec" || c[0] == "command" || c[0] == "nice" || c[0] == "then" || c[0] == "do" || c[0] == "else":
			c = c[1:]
		case c[0] == "DEBIAN_FRONTEND=noninteractive":
			c = c[1:]
		default:
			return c
		}
	}
	return c
}

func baseName(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

// subcommand is the first word that is not an option.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-o" || a == "-c" || a == "-t" || a == "--root" || a == "-X" || a == "--repository" {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

func contains(ws []string, s string) bool {
	for _, w := range ws {
		if w == s {
			return true
		}
	}
	return false
}

// operands are the words after the subcommand that are not options (and
// not option values for the options in withValue).
func operands(c []string, sub string, withValue ...string) []string {
	var out []string
	seen := false
	for i := 1; i < len(c); i++ {
		a := c[i]
		if strings.HasPrefix(a, "-") {
			if contains(withValue, a) {
				i++
			}
			continue
		}
		if !seen && a == sub {
			seen = true
			continue
		}
		if seen {
			out = append(out, a)
		}
	}
	return out
}

func (l *linter) aptInstall(c []string, line int, subj, tool string) {
	recommends := false
	for i, a := range c {
		if a == "--no-install-recommends" || strings.Contains(a, "Install-Recommends=false") || strings.Contains(a, "Install-Recommends=0") ||
			(a == "-o" && i+1 < len(c) && strings.Contains(c[i+1], "Install-Recommends=")) {
			recommends = true
		}
	}
	if !recommends {
		l.hit(rule.DFNoRecommends, line, subj, "%s install without --no-install-recommends", tool)
	}
	var unpinned []string
	for _, p := range operands(c, "install", "-o", "-t", "-c", "--target-release") {
		if strings.Contains(p, "=") || strings.HasSuffix(p, ".deb") || strings.Contains(p, "/") || strings.Contains(p, "$") {
			continue
		}
		unpinned = append(unpinned, p)
	}
	if len(unpinned) > 0 {
		l.hit(rule.DFAptPin, line, subj, "%s install %s without =VERSION", tool, strings.Join(unpinned, " "))
	}
}

func (l *linter) apkAdd(c []string, line int, subj string) {
	var unpinned []string
	for _, p := range operands(c, "add", "-t", "--virtual", "-X", "--repository", "--root", "-p") {
		if strings.ContainsAny(p, "=~<>") || strings.HasSuffix(p, ".apk") || strings.Contains(p, "$") {
			continue
		}
		unpinned = append(unpinned, p)
	}
	if len(unpinned) > 0 {
		l.hit(rule.DFApkPin, line, subj, "apk add %s without =VERSION", strings.Join(unpinned, " "))
	}
}

func (l *linter) pipInstall(c []string, line int, subj string) {
	var unpinned []string
	ops := operands(c, "install", "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
		"--extra-index-url", "--trusted-host", "-t", "--target", "--prefix", "--root", "-f", "--find-links", "--platform", "--python-version")
	for _, o := range c {
		if o == "-r" || o == "--requirement" || strings.HasPrefix(o, "--requirement=") {
			return // versions are in the file
		}
	}
	for _, p := range ops {
		if strings.ContainsAny(p, "=<>~@/") || strings.HasSuffix(p, ".whl") || strings.HasSuffix(p, ".tar.gz") || p == "." || strings.Contains(p, "$") {
			continue
		}
		unpinned = append(unpinned, p)
	}
	if len(unpinned) > 0 {
		l.hit(rule.DFPipPin, line, subj, "pip install %s without ==VERSION", strings.Join(unpinned, " "))
	}
}
