package audit

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"

	"github.com/lockdown-sec/lockdown/internal/posture"
)

// secretHit is one likely secret in image metadata. Value is never kept:
// only its redacted form leaves this file.
type secretHit struct {
	Where    string // "ENV", "LABEL", "history[3]"
	Key      string // variable or label name, "" for a bare token
	Kind     string // "AWS access key ID", "password-like name", "high-entropy value", …
	Redacted string
	Strong   bool // matched a token pattern or a secret-like name (not entropy alone)
}

func (h secretHit) String() string {
	if h.Key != "" {
		return fmt.Sprintf("%s %s=%s (%s)", h.Where, h.Key, h.Redacted, h.Kind)
	}
	return fmt.Sprintf("%s %s (%s)", h.Where, h.Redacted, h.Kind)
}

// tokenPattern is a well-known credential format; keep is how many leading
// characters are safe to show (the fixed prefix).
type tokenPattern struct {
	kind string
	re   *regexp.Regexp
	keep int
}

// secretScanner holds the compiled patterns; build one with newSecretScanner.
type secretScanner struct {
	tokens     []tokenPattern
	urlCreds   *regexp.Regexp
	assign     *regexp.Regexp
	flagSecret *regexp.Regexp
}

func newSecretScanner() *secretScanner {
	return &secretScanner{
		tokens: []tokenPattern{
			{"private key", regexp.MustCompile(`-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----`), 0},
			{"AWS access key ID", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), 4},
			{"GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b`), 4},
			{"GitLab token", regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}\b`), 6},
			{"Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`), 5},
			{"Stripe secret key", regexp.MustCompile(`\b[sr]k_live_[0-9A-Za-z]{16,}\b`), 8},
			{"Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), 4},
			{"JSON web token", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), 3},
		},
		urlCreds:   regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@`),
		assign:     regexp.MustCompile(`(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_.-]*)=("[^"]*"|'[^']*'|[^\s;&|]+)`),
		flagSecret: regexp.MustCompile(`--(password|passwd|token|secret|api-key)[= ]("[^"]*"|'[^']*'|[^\s;&|]+)`),
	}
}

// redact shows keep leading characters and the length, never the rest.
func redact(v string, keep int) string {
	r := []rune(v)
	if keep > len(r)/2 {
		keep = len(r) / 2
	}
	return fmt.Sprintf("%s<redacted %d chars>", string(r[:keep]), len(r))
}

// entropy is the Shannon entropy of s in bits per character.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}

// placeholder reports values that are clearly not secrets: variable
// references, paths, booleans, short or empty values.
func placeholder(v string) bool {
	v = strings.Trim(v, `"'`)
	if len(v) < 4 || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "<") {
		return true
	}
	switch strings.ToLower(v) {
	case "true", "false", "none", "null", "nil", "empty", "unset", "changeit_in_runtime", "xxxx", "****":
		return true
	}
	return false
}

// randomLooking reports a high-entropy token: long, no spaces, mixed
// character classes, and not a plain hex digest.
func randomLooking(v string) bool {
	if len(v) < 20 || len(v) > 4096 || strings.ContainsAny(v, " \t\n") {
		return false
	}
	var lower, upper, digit, hex bool
	hex = true
	for _, r := range v {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		}
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hex = false
		}
	}
	if hex || !(lower && upper && digit) || strings.Contains(v, "://") {
		return false
	}
	return entropy(v) >= 4.0
}

// keyValue scans one NAME=value pair (ENV entry, label, build arg).
func (s *secretScanner) keyValue(where, key, value string) []secretHit {
	var hits []secretHit
	if h := s.tokensIn(where, key, value); len(h) > 0 {
		return h
	}
	if placeholder(value) {
		return nil
	}
	switch {
	case posture.SecretName(key):
		hits = append(hits, secretHit{Where: where, Key: key, Kind: "secret-like name", Redacted: redact(strings.Trim(value, `"'`), 0), Strong: true})
	case !posture.BenignName(key) && randomLooking(strings.Trim(value, `"'`)):
		hits = append(hits, secretHit{Where: where, Key: key, Kind: fmt.Sprintf("high-entropy value, %.1f bits/char", entropy(strings.Trim(value, `"'`))), Redacted: redact(strings.Trim(value, `"'`), 0)})
	}
	return hits
}

// tokensIn finds well-known token formats and URL credentials in text.
func (s *secretScanner) tokensIn(where, key, text string) []secretHit {
	var hits []secretHit
	for _, p := range s.tokens {
		for _, m := range p.re.FindAllString(text, 4) {
			hits = append(hits, secretHit{Where: where, Key: key, Kind: p.kind, Redacted: redact(m, p.keep), Strong: true})
		}
	}
	for _, m := range s.urlCreds.FindAllStringSubmatch(text, 4) {
		if !placeholder(m[1]) {
			hits = append(hits, secretHit{Where: where, Key: key, Kind: "password in URL", Redacted: redact(m[1], 0), Strong: true})
		}
	}
	return hits
}

// text scans free text (a history created_by line): token formats,
// NAME=value assignments and --password style flags.
func (s *secretScanner) text(where, text string) []secretHit {
	hits := s.tokensIn(where, "", text)
	if len(hits) > 0 {
		return hits
	}
	for _, m := range s.assign.FindAllStringSubmatch(text, -1) {
		hits = append(hits, s.keyValue(where, m[1], strings.Trim(m[2], `"'`))...)
	}
	for _, m := range s.flagSecret.FindAllStringSubmatch(text, -1) {
		v := strings.Trim(m[2], `"'`)
		if !placeholder(v) {
			hits = append(hits, secretHit{Where: where, Key: "--" + m[1], Kind: "secret on a command line", Redacted: redact(v, 0), Strong: true})
		}
	}
	return hits
}
