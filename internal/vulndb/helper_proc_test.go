package vulndb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// helperEnv, when set in a child process of the test binary, makes it
// update the database at $LOCKDOWN_VULNDB_TEST_DB from all shared data
// (found at $LOCKDOWN_VULNDB_TEST_DATA) instead of running tests: the
// process a test kills mid-update.
const (
	helperEnv     = "LOCKDOWN_VULNDB_TEST_HELPER"
	helperDBEnv   = "LOCKDOWN_VULNDB_TEST_DB"
	helperDataEnv = "LOCKDOWN_VULNDB_TEST_DATA"
)

func helperMain() int {
	data := os.Getenv(helperDataEnv)
	srcs := []Source{
		{Kind: KindOSV, Location: filepath.Join(data, "osv")},
		{Kind: KindAlpineSecdb, Location: filepath.Join(data, "distro", "alpine-secdb")},
		{Kind: KindUbuntuTracker, Location: filepath.Join(data, "distro", "ubuntu-cve-tracker", "ubuntu-cve-tracker-2020-06.tar.gz")},
		{Kind: KindDebianTracker, Location: filepath.Join(data, "distro", "debian-security-tracker")},
	}
	if _, err := Update(context.Background(), os.Getenv(helperDBEnv), srcs, UpdateOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "helper update:", err)
		return 1
	}
	return 0
}
