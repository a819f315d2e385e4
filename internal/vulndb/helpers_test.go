package vulndb

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb/distro"
)

var shared struct {
	dir string

	once   sync.Once
	store  *Store
	status Status
	err    error

	expOnce sync.Once
	exp     *expectation
	expErr  error
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	code := m.Run()
	if shared.store != nil {
		shared.store.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedStore is one database built from all the shared data, for the
// tests and benchmarks that only read.
func sharedStore(t testing.TB) *Store {
	t.Helper()
	srcs := allSources(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "vulndb-test-")
		if shared.err != nil {
			return
		}
		path := filepath.Join(shared.dir, "lockdown.db")
		shared.status, shared.err = Update(context.Background(), path, srcs, UpdateOptions{})
		if shared.err != nil {
			return
		}
		shared.store, shared.err = Open(path, OpenOptions{})
	})
	if shared.err != nil {
		t.Fatalf("build shared db: %v", shared.err)
	}
	return shared.store
}

// expectation is what the store must hold, computed here without the
// store: OSV records read straight from the zips with archive/zip, and the
// distribution records as the converters produce them (the converters are
// checked against the raw files in package distro).
type expectation struct {
	recs  map[string]*expRecord
	index map[pkgKey][]string // every record naming the key, withdrawn too; sorted
	dups  int
	osvN  int // OSV records read
	distN map[Kind]int
}

type expRecord struct {
	raw       []byte // OSV: the bytes in the zip; distro: nil
	v         osv.Vulnerability
	keys      []pkgKey
	withdrawn bool
}

// expMinimal is the little of a record the expectation needs.
type expMinimal struct {
	ID        string          `json:"id"`
	Modified  time.Time       `json:"modified"`
	Withdrawn json.RawMessage `json:"withdrawn"`
	Affected  []struct {
		Package *struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

func sharedExpect(t testing.TB) *expectation {
	t.Helper()
	data := testutil.DataDir(t)
	shared.expOnce.Do(func() { shared.exp, shared.expErr = buildExpectation(data) })
	if shared.expErr != nil {
		t.Fatalf("expectation: %v", shared.expErr)
	}
	return shared.exp
}

func buildExpectation(data string) (*expectation, error) {
	e := &expectation{recs: map[string]*expRecord{}, distN: map[Kind]int{}}
	add := func(id string, modified time.Time, r *expRecord) {
		if old, ok := e.recs[id]; ok {
			e.dups++
			if old.v.Modified.After(modified) {
				return
			}
		}
		r.v.Modified = modified
		e.recs[id] = r
	}
	zips, err := filepath.Glob(filepath.Join(data, "osv", "*.zip"))
	if err != nil {
		return nil, err
	}
	sort.Strings(zips)
	for _, z := range zips {
		zr, err := zip.OpenReader(z)
		if err != nil {
			return nil, err
		}
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".json") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			raw, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			var m expMinimal
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, err
			}
			r := &expRecord{raw: raw, withdrawn: len(m.Withdrawn) > 0 && string(m.Withdrawn) != "null"}
			r.v.ID = m.ID
			for _, a := range m.Affected {
				if a.Package == nil || a.Package.Name == "" {
					continue
				}
				k := keyOf(a.Package.Ecosystem, a.Package.Name)
				if !containsKey(r.keys, k) {
					r.keys = append(r.keys, k)
				}
			}
			e.osvN++
			add(m.ID, m.Modified, r)
		}
		zr.Close()
	}
	emit := func(kind Kind) distro.Emit {
		return func(v osv.Vulnerability) error {
			r := &expRecord{v: v, withdrawn: v.Withdrawn != nil}
			for _, a := range v.Affected {
				k := keyOf(a.Package.Ecosystem, a.Package.Name)
				if !containsKey(r.keys, k) {
					r.keys = append(r.keys, k)
				}
			}
			e.distN[kind]++
			add(v.ID, v.Modified, r)
			return nil
		}
	}
	// Alpine.
	var sdb distro.Secdb
	secdb := filepath.Join(data, "distro", "alpine-secdb")
	files, _ := filepath.Glob(filepath.Join(secdb, "v*", "*.json"))
	sort.Strings(files)
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		br := filepath.Base(filepath.Dir(p))
		err = sdb.Add(f, br+"/"+filepath.Base(p), br, nil)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	for _, v := range sdb.Records() {
		emit(KindAlpineSecdb)(v)
	}
	// Ubuntu.
	f, err := os.Open(filepath.Join(data, "distro", "ubuntu-cve-tracker", "ubuntu-cve-tracker-2020-06.tar.gz"))
	if err != nil {
		return nil, err
	}
	err = distro.ParseUCT(context.Background(), f, "ubuntu-cve-tracker-2020-06.tar.gz", emit(KindUbuntuTracker), nil)
	f.Close()
	if err != nil {
		return nil, err
	}
	// Debian.
	for _, l := range []string{"DSA-list", "DLA-list", "DTSA-list"} {
		f, err := os.Open(filepath.Join(data, "distro", "debian-security-tracker", l))
		if err != nil {
			return nil, err
		}
		err = distro.ParseDebianList(context.Background(), f, l, emit(KindDebianTracker), nil)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	e.index = map[pkgKey][]string{}
	for id, r := range e.recs {
		for _, k := range r.keys {
			e.index[k] = append(e.index[k], id)
		}
	}
	for _, ids := range e.index {
		sort.Strings(ids)
	}
	return e, nil
}

func containsKey(keys []pkgKey, k pkgKey) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// ecosystemCounts computes Status.Ecosystems from the expectation.
func (e *expectation) ecosystemCounts() []EcosystemCount {
	type acc struct {
		recs, withdrawn map[string]bool
		pkgs            map[string]bool
	}
	m := map[string]*acc{}
	for k, ids := range e.index {
		a := m[k.eco]
		if a == nil {
			a = &acc{recs: map[string]bool{}, withdrawn: map[string]bool{}, pkgs: map[string]bool{}}
			m[k.eco] = a
		}
		a.pkgs[k.name] = true
		for _, id := range ids {
			a.recs[id] = true
			if e.recs[id].withdrawn {
				a.withdrawn[id] = true
			}
		}
	}
	var out []EcosystemCount
	for name, a := range m {
		out = append(out, EcosystemCount{Name: name, Records: len(a.recs), Withdrawn: len(a.withdrawn),
			Packages: len(a.pkgs), Known: supported(name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// writeFiles creates files (path -> content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tempFiles lists files an update leaves next to path (there must be none
// but the lock and the verified stamp).
func tempFiles(t testing.TB, path string) []string {
	t.Helper()
	var out []string
	dir, base := filepath.Split(path)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), base+".") && d.Name() != base+".lock" && d.Name() != base+verifiedSuffix {
			out = append(out, d.Name())
		}
		return nil
	})
	return out
}

// buildExpectationOf reads every JSON entry of one zip: entry name -> bytes.
func buildExpectationOf(path string) (map[string][]byte, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out := map[string][]byte{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out[f.Name] = b
	}
	return out, nil
}

func supported(eco string) bool {
	e, _ := ecosystem.Lookup(eco)
	return e.Supported()
}
