package maven

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
)

// ParseGradleLock reads a gradle.lockfile: one "group:artifact:version=
// configuration,…" line per dependency; "empty=…" and comments are skipped.
// A dependency only in test configurations gets Metadata["scope"] "test".
func ParseGradleLock(location string, data []byte) (extract.Result, error) {
	s := newSet(location)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		coord, confs, _ := strings.Cut(line, "=")
		if coord == "empty" {
			continue
		}
		parts := strings.Split(coord, ":")
		if len(parts) != 3 || !validCoord(parts[0]) || !validCoord(parts[1]) || !validVersion(parts[2]) {
			s.warn("gradle.lockfile line %d: %q is not group:artifact:version", n, coord)
			continue
		}
		var meta map[string]string
		if testOnly(confs) {
			meta = map[string]string{"scope": "test"}
		}
		s.add(parts[0]+":"+parts[1], parts[2], meta)
	}
	if err := sc.Err(); err != nil {
		return extract.Result{}, fmt.Errorf("parse gradle.lockfile %s: line %d: %w", location, n+1, err)
	}
	return s.result(), nil
}

// testOnly reports whether every configuration named is a test one
// ("testCompileClasspath", "testRuntimeClasspath", …).
func testOnly(confs string) bool {
	seen := false
	for _, c := range strings.Split(confs, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.HasPrefix(c, "test") {
			return false
		}
		seen = true
	}
	return seen
}
