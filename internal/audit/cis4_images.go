package audit

// CIS section 4: container images and build files — USER, content trust,
// HEALTHCHECK, update instructions, ADD, secrets — plus the latest-tag
// check.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/lockdown-sec/lockdown/internal/model"
)

var imageUserInfo = Info{ID: "LD-IMG-401", CIS: "4.1", Title: "The image sets a non-root USER", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "user"},
	Rationale:   "Containers from an image without USER run as root unless every user remembers --user.",
	Remediation: "add USER UID:GID to the Dockerfile (after creating the user) and rebuild"}

// imageUser: 4.1.
func imageUser(t *Target, im *Image) Result {
	u := ""
	if im.Inspect.Config != nil {
		u = im.Inspect.Config.User
	}
	if isRootUser(u) {
		return fail("Config.User: %q (root)", u)
	}
	return pass("Config.User: %s", u)
}

var contentTrustInfo = Info{ID: "LD-DKR-130", CIS: "4.5", Title: "Content trust is on", Severity: model.SeverityLow,
	Scope: ScopeDaemon, Tags: []string{"cis", "images", "trust"},
	Rationale:   "With DOCKER_CONTENT_TRUST=1 the docker client pulls, runs and builds only signed image tags.",
	Remediation: "export DOCKER_CONTENT_TRUST=1 in the environment of every shell and service that runs docker (/etc/environment, the CI runner's environment)"}

// contentTrust: 4.5. Content trust is a client setting: the environment of
// this audit (the client) and, on the daemon's host, of dockerd.
func contentTrust(t *Target) Result {
	ct := t.Daemon.ContentTrust
	where := []string{fmt.Sprintf("client environment DOCKER_CONTENT_TRUST=%q", ct.Client)}
	if ct.DaemonSeen {
		where = append(where, fmt.Sprintf("dockerd environment DOCKER_CONTENT_TRUST=%q", ct.Daemon))
	}
	if ct.Client == "1" || ct.Daemon == "1" {
		return pass("%s", strings.Join(where, ", "))
	}
	return fail("%s", strings.Join(where, ", "))
}

var imageHealthInfo = Info{ID: "LD-IMG-402", CIS: "4.6", Title: "The image has a HEALTHCHECK", Severity: model.SeverityLow,
	Tags:        []string{"cis", "availability"},
	Rationale:   "A HEALTHCHECK in the image gives every container from it a health check.",
	Remediation: "add HEALTHCHECK CMD … to the Dockerfile and rebuild"}

// imageHealth: 4.6.
func imageHealth(t *Target, im *Image) Result {
	if c := im.Inspect.Config; c != nil && c.Healthcheck != nil && len(c.Healthcheck.Test) > 0 && c.Healthcheck.Test[0] != "NONE" {
		return pass("Config.Healthcheck: %s", strings.Join(c.Healthcheck.Test, " "))
	}
	return fail("Config.Healthcheck: none")
}

var updateAloneInfo = Info{ID: "LD-IMG-406", CIS: "4.7", Title: "No update instruction alone in a build step", Severity: model.SeverityLow,
	Tags:        []string{"cis", "build"},
	Rationale:   "A cached \"RUN apt-get update\" step is reused by later builds, which then install from a stale package index and miss security updates.",
	Remediation: "update and install in one RUN step (RUN apt-get update && apt-get install -y PKG) and rebuild"}

// updateRe finds a package index update; installRe an install in the same step.
var (
	updateRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\b(?:apt-get|apt|yum|dnf|microdnf|zypper|apk)\s+(?:-\S+\s+)*(?:update|makecache|refresh)\b`)
	})
	installRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(?:install|add|upgrade|dist-upgrade|in)\b`) })
)

// updateAlone: 4.7.
func updateAlone(t *Target, im *Image) Result {
	var bad []string
	for i, h := range im.History {
		if updateRe().MatchString(h.CreatedBy) && !installRe().MatchString(updateRe().ReplaceAllString(h.CreatedBy, "")) {
			bad = append(bad, fmt.Sprintf("history[%d] %s", i, strings.TrimSpace(strings.TrimPrefix(h.CreatedBy, "/bin/sh -c"))))
		}
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("no update-only step in %d history steps", len(im.History))
}

var remoteAddInfo = Info{ID: "LD-IMG-404", CIS: "4.9", Title: "No ADD of a remote URL", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "build"},
	Rationale:   "ADD <url> downloads without verification at build time; the content can change between builds.",
	Remediation: "replace ADD URL with RUN curl -fsSL URL -o FILE && echo 'SHA256  FILE' | sha256sum -c (or ADD --checksum=sha256:…) and rebuild"}

// remoteAddRe finds ADD of a URL as BuildKit records it ("ADD https://… /dst
// # buildkit"); classicAddRe finds it as the classic builder does: the URL
// is replaced by the content hash with no "file:"/"dir:" prefix, which
// only remote sources get ("#(nop) ADD 236a…fd6b in /dst").
var (
	remoteAddRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)(?:^|\s)ADD\s+(?:--\S+\s+)*(https?://\S+)`) })
	classicAddRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`#\(nop\)\s+ADD\s+([0-9a-f]{64})\s+in\s+(\S+)`) })
)

// remoteAdd: 4.9.
func remoteAdd(t *Target, im *Image) Result {
	var bad []string
	for i, h := range im.History {
		if m := remoteAddRe().FindStringSubmatch(h.CreatedBy); m != nil {
			bad = append(bad, fmt.Sprintf("history[%d] ADD %s", i, redactURL(m[1])))
		} else if m := classicAddRe().FindStringSubmatch(h.CreatedBy); m != nil {
			bad = append(bad, fmt.Sprintf("history[%d] ADD of a remote URL to %s (classic builder; content sha256:%s)", i, m[2], m[1][:12]))
		}
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("no remote ADD in %d history steps", len(im.History))
}

var imageSecretsInfo = Info{ID: "LD-IMG-403", CIS: "4.10", Title: "No secrets in ENV, labels or history", Severity: model.SeverityCritical,
	Tags:        []string{"cis", "secrets"},
	Rationale:   "ENV, labels and build history ship with the image to everyone who can pull it; a secret there is public.",
	Remediation: "remove the secret from the Dockerfile (ENV, ARG, LABEL, RUN), rotate it, and pass it at build time with RUN --mount=type=secret or at run time"}

// imageSecrets: 4.10.
func (s *secretScanner) imageSecrets(t *Target, im *Image) Result {
	hits := imageSecretHits(s, im)
	if len(hits) == 0 {
		return pass("no secret-like value in %d ENV entries, %d labels and %d history steps", envCount(im), labelCount(im), len(im.History))
	}
	return secretsResult(hits)
}

// secretsResult fails on strong hits and warns on entropy-only ones.
func secretsResult(hits []secretHit) Result {
	var strong bool
	parts := make([]string, len(hits))
	for i, h := range hits {
		parts[i] = h.String()
		strong = strong || h.Strong
	}
	if strong {
		return fail("%s", strings.Join(parts, "; "))
	}
	return warn("possible secrets (entropy only): %s", strings.Join(parts, "; "))
}

var latestTagInfo = Info{ID: "LD-IMG-405", Title: "The image is not tagged latest", Severity: model.SeverityLow,
	Tags:        []string{"tags"},
	Rationale:   "latest moves: containers started from it on different days run different code, and rollbacks are guesswork.",
	Remediation: "tag images with a version or pin them by digest (name@sha256:…)"}

// notLatest: the latest tag.
func notLatest(t *Target, im *Image) Result {
	var latest []string
	for _, tag := range im.Inspect.RepoTags {
		if strings.HasSuffix(tag, ":latest") {
			latest = append(latest, tag)
		}
	}
	if len(latest) > 0 {
		return fail("RepoTags: %s", strings.Join(latest, ", "))
	}
	if len(im.Inspect.RepoTags) == 0 {
		return pass("untagged (referenced by ID or digest)")
	}
	return pass("RepoTags: %s", strings.Join(im.Inspect.RepoTags, ", "))
}

// redactURL hides credentials in a URL's user info.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.Index(rest, "@"); at >= 0 && at < strings.IndexAny(rest+"/", "/") {
		return scheme + "://<redacted>@" + rest[at+1:]
	}
	return u
}

func envCount(im *Image) int {
	if im.Inspect.Config == nil {
		return 0
	}
	return len(im.Inspect.Config.Env)
}

func labelCount(im *Image) int {
	if im.Inspect.Config == nil {
		return 0
	}
	return len(im.Inspect.Config.Labels)
}

// imageSecrets scans ENV, labels and history; one hit per place and key.
func imageSecretHits(s *secretScanner, im *Image) []secretHit {
	var hits []secretHit
	if c := im.Inspect.Config; c != nil {
		for _, e := range c.Env {
			k, v, _ := strings.Cut(e, "=")
			hits = append(hits, s.keyValue("ENV", k, v)...)
		}
		keys := make([]string, 0, len(c.Labels))
		for k := range c.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			hits = append(hits, s.keyValue("LABEL", k, c.Labels[k])...)
		}
	}
	for i, h := range im.History {
		hits = append(hits, s.text(fmt.Sprintf("history[%d]", i), h.CreatedBy)...)
	}
	// One hit per place and key (the ENV of the config shows again in the
	// history step that set it: keep both, they are different places).
	out := hits[:0]
	for _, h := range hits {
		if !slices.ContainsFunc(out, func(o secretHit) bool { return o.Where == h.Where && o.Key == h.Key && o.Redacted == h.Redacted }) {
			out = append(out, h)
		}
	}
	return out
}
