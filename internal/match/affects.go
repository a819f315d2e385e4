// Package match evaluates OSV advisories against installed packages: the
// OSV range semantics (Affects) and the package→finding matcher (Match).
package match

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// ErrNoScheme is returned by Affects for an ECOSYSTEM range when no scheme
// was given.
var ErrNoScheme = errors.New("no version scheme for ECOSYSTEM range")

// Affects reports whether the installed version is affected by one
// affected entry of an OSV record, following the OSV schema's evaluation
// (https://ossf.github.io/osv-schema/#evaluation):
//
//   - a withdrawn record affects nothing;
//   - the versions list: an exact string match is a hit; with a scheme, a
//     listed version that parses and compares equal is a hit too (entries
//     that do not parse can only match exactly);
//   - each SEMVER or ECOSYSTEM range: its events are sorted by version
//     (introduced "0" first; on equal versions introduced before fixed and
//     last_affected), then walked: introduced sets affected when the version
//     is >= it, fixed clears it when >=, last_affected when >. Limit events
//     bound the range: when a range has any, the version must be below at
//     least one of them ("*" = no bound). GIT ranges are skipped (commits
//     are not versions; only the versions list counts for them);
//   - several ranges are OR-ed.
//
// SEMVER ranges are read with version.Semver() — in the Go ecosystem with
// version.Go(), which orders the same but also reads toolchain tags
// ("go1.20.1"); ECOSYSTEM ranges with scheme.
//
// fixed is the smallest fixed event greater than installed among the ranges
// that matched ("" if none). An installed version or event that the scheme
// cannot parse is an error naming the record; the caller reports it.
func Affects(v osv.Vulnerability, a osv.Affected, scheme version.Scheme, installed string) (hit bool, fixed string, err error) {
	if v.Withdrawn != nil {
		return false, "", nil
	}
	if slices.Contains(a.Versions, installed) {
		hit = true
	}

	semverScheme := version.Semver()
	if scheme != nil && scheme.Name() == version.Go().Name() {
		semverScheme = scheme
	}

	var fixedV version.Version
	var fixedScheme version.Scheme
	// The installed version, parsed at most once per scheme.
	eco := lazyVersion{s: scheme, id: v.ID, in: installed}
	sem := lazyVersion{s: semverScheme, id: v.ID, in: installed}
	if semverScheme == scheme {
		sem = eco
	}
	parseInstalled := func(s version.Scheme) (version.Version, error) {
		if s == scheme {
			return eco.get()
		}
		return sem.get()
	}

	if !hit && scheme != nil && len(a.Versions) > 0 {
		iv, err := parseInstalled(scheme)
		if err == nil {
			for _, lv := range a.Versions {
				pv, perr := scheme.Parse(lv)
				if perr == nil && scheme.Compare(iv, pv) == 0 {
					hit = true
					break
				}
			}
		} else if !hasVersionRanges(a) {
			return false, "", err
		}
	}

	for ri, r := range a.Ranges {
		var s version.Scheme
		switch r.Type {
		case osv.RangeSemver:
			s = semverScheme
		case osv.RangeEcosystem:
			if scheme == nil {
				return hit, "", fmt.Errorf("%s: range %d: %w", v.ID, ri, ErrNoScheme)
			}
			s = scheme
		default:
			continue // GIT and unknown range types
		}
		iv, err := parseInstalled(s)
		if err != nil {
			if hit {
				// Listed exactly; the fixed version cannot be ordered.
				return true, "", nil
			}
			return false, "", err
		}
		in, fix, err := evalRange(s, r, iv)
		if err != nil {
			return hit, "", fmt.Errorf("%s: range %d: %w", v.ID, ri, err)
		}
		if !in {
			continue
		}
		hit = true
		if fix != nil && (fixedV == nil || (fixedScheme == s && s.Compare(fix, fixedV) < 0)) {
			fixedV, fixedScheme = fix, s
		}
	}
	if fixedV != nil {
		fixed = fixedV.String()
	}
	return hit, fixed, nil
}

type lazyVersion struct {
	s    version.Scheme
	id   string
	in   string
	done bool
	v    version.Version
	err  error
}

func (l *lazyVersion) get() (version.Version, error) {
	if !l.done {
		l.done = true
		l.v, l.err = l.s.Parse(l.in)
		if l.err != nil {
			l.err = fmt.Errorf("%s: installed version: %w", l.id, l.err)
		}
	}
	return l.v, l.err
}

func hasVersionRanges(a osv.Affected) bool {
	for _, r := range a.Ranges {
		if r.Type == osv.RangeSemver || r.Type == osv.RangeEcosystem {
			return true
		}
	}
	return false
}

type event struct {
	kind int // evIntroduced, evFixed, evLastAffected
	zero bool
	v    version.Version
}

const (
	evIntroduced = iota
	evFixed
	evLastAffected
)

// evalRange walks one range's events. It returns whether iv is in the
// range and, if so, the smallest fixed event greater than iv.
func evalRange(s version.Scheme, r osv.Range, iv version.Version) (bool, version.Version, error) {
	in, fix, _, err := walkRange(s, r, iv)
	return in, fix, err
}

// walkRange is evalRange that also returns, when iv is not in the range,
// the fixed event at or below iv that ended the affected span iv had
// entered (nil when iv never was in one: below every introduced event).
func walkRange(s version.Scheme, r osv.Range, iv version.Version) (bool, version.Version, version.Version, error) {
	var evs []event
	var limits []version.Version
	unlimited := false
	parse := func(what, str string) (version.Version, error) {
		pv, err := s.Parse(str)
		if err != nil {
			return nil, fmt.Errorf("%s event: %w", what, err)
		}
		return pv, nil
	}
	for _, e := range r.Events {
		switch {
		case e.Introduced != "":
			if e.Introduced == "0" {
				evs = append(evs, event{kind: evIntroduced, zero: true})
				continue
			}
			pv, err := parse("introduced", e.Introduced)
			if err != nil {
				return false, nil, nil, err
			}
			evs = append(evs, event{kind: evIntroduced, v: pv})
		case e.Fixed != "":
			pv, err := parse("fixed", e.Fixed)
			if err != nil {
				return false, nil, nil, err
			}
			evs = append(evs, event{kind: evFixed, v: pv})
		case e.LastAffected != "":
			pv, err := parse("last_affected", e.LastAffected)
			if err != nil {
				return false, nil, nil, err
			}
			evs = append(evs, event{kind: evLastAffected, v: pv})
		case e.Limit != "":
			if e.Limit == "*" {
				unlimited = true
				continue
			}
			pv, err := parse("limit", e.Limit)
			if err != nil {
				return false, nil, nil, err
			}
			limits = append(limits, pv)
		}
	}
	if len(limits) > 0 && !unlimited {
		below := false
		for _, l := range limits {
			if s.Compare(iv, l) < 0 {
				below = true
				break
			}
		}
		if !below {
			return false, nil, nil, nil
		}
	}
	slices.SortStableFunc(evs, func(x, y event) int {
		switch {
		case x.zero && y.zero:
			return 0
		case x.zero:
			return -1
		case y.zero:
			return 1
		}
		if c := s.Compare(x.v, y.v); c != 0 {
			return c
		}
		// Equal versions: introduced first, so "introduced X, fixed X" is
		// empty and "introduced X, last_affected X" holds X.
		return x.kind - y.kind
	})
	affected := false
	var clearedBy version.Version
	for _, e := range evs {
		switch e.kind {
		case evIntroduced:
			if e.zero || s.Compare(iv, e.v) >= 0 {
				affected = true
			}
		case evFixed:
			if s.Compare(iv, e.v) >= 0 {
				if affected {
					clearedBy = e.v
				}
				affected = false
			}
		case evLastAffected:
			if s.Compare(iv, e.v) > 0 {
				affected = false
			}
		}
	}
	if !affected {
		return false, nil, clearedBy, nil
	}
	var fix version.Version
	for _, e := range evs {
		if e.kind == evFixed && s.Compare(e.v, iv) > 0 && (fix == nil || s.Compare(e.v, fix) < 0) {
			fix = e.v
		}
	}
	return true, fix, nil, nil
}

// FixedBy reports whether the installed version has the fix of one affected
// entry: no range and no listed version affects it, and a fixed event at or
// below it ended a span of affected versions it had entered. fixed is the
// highest such event. A version below every introduced event was never
// affected and is not "fixed"; an error (a version the scheme cannot read)
// says nothing. This is what an OpenVEX "fixed" statement states.
func FixedBy(v osv.Vulnerability, a osv.Affected, scheme version.Scheme, installed string) (fixed string, ok bool) {
	if hit, _, err := Affects(v, a, scheme, installed); hit || err != nil {
		return "", false
	}
	semverScheme := version.Semver()
	if scheme != nil && scheme.Name() == version.Go().Name() {
		semverScheme = scheme
	}
	var best version.Version
	var bestScheme version.Scheme
	for _, r := range a.Ranges {
		s := scheme
		switch r.Type {
		case osv.RangeSemver:
			s = semverScheme
		case osv.RangeEcosystem:
		default:
			continue
		}
		if s == nil {
			continue
		}
		iv, err := s.Parse(installed)
		if err != nil {
			return "", false
		}
		_, _, by, err := walkRange(s, r, iv)
		if err != nil {
			return "", false
		}
		if by != nil && (best == nil || bestScheme == s && s.Compare(by, best) > 0) {
			best, bestScheme = by, s
		}
	}
	if best == nil {
		return "", false
	}
	return best.String(), true
}
