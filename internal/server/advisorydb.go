package server

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// advisoryDB holds the open vulnerability database and re-opens it when
// the file at path is replaced (`lockdown db update` renames a new file
// into place). Scans hold a read lock while they use it.
type advisoryDB struct {
	path string

	mu     sync.RWMutex
	st     *vulndb.Store
	status vulndb.Status
	fi     os.FileInfo
}

// dbInfo is what scans and metrics need to know of the advisory DB.
type dbInfo struct {
	Path       string
	Built      time.Time
	Records    int
	Ecosystems []vulndb.EcosystemCount
}

func openAdvisoryDB(path string) (*advisoryDB, error) {
	a := &advisoryDB{path: path}
	if err := a.reopen(); err != nil {
		return nil, err
	}
	return a, nil
}

// reopen opens the file at path; the caller holds mu (or owns a).
func (a *advisoryDB) reopen() error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("advisory db %s: %w (run `lockdown db update`)", a.path, err)
	}
	st, err := vulndb.Open(a.path, vulndb.OpenOptions{})
	if err != nil {
		return err
	}
	status, err := st.Status()
	if err != nil {
		st.Close()
		return fmt.Errorf("advisory db %s: %w", a.path, err)
	}
	if a.st != nil {
		a.st.Close()
	}
	a.st, a.status, a.fi = st, status, fi
	return nil
}

// changed reports whether the file at path is no longer the open one.
func (a *advisoryDB) changed() bool {
	fi, err := os.Stat(a.path)
	if err != nil {
		return false // keep using the open file
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return !os.SameFile(fi, a.fi) || fi.ModTime() != a.fi.ModTime() || fi.Size() != a.fi.Size()
}

// refresh re-opens the database when the file changed.
func (a *advisoryDB) refresh() error {
	if !a.changed() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reopen()
}

// acquire returns the current store, read-locked until release.
func (a *advisoryDB) acquire() (*vulndb.Store, dbInfo, func(), error) {
	if err := a.refresh(); err != nil {
		return nil, dbInfo{}, nil, err
	}
	a.mu.RLock()
	return a.st, a.infoLocked(), a.mu.RUnlock, nil
}

// info describes the current database (re-opening it if it changed).
func (a *advisoryDB) info() (dbInfo, error) {
	err := a.refresh()
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.infoLocked(), err
}

func (a *advisoryDB) infoLocked() dbInfo {
	return dbInfo{Path: a.path, Built: a.status.Built, Records: a.status.Records, Ecosystems: a.status.Ecosystems}
}

func (a *advisoryDB) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st == nil {
		return nil
	}
	err := a.st.Close()
	a.st = nil
	return err
}
