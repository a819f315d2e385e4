package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/report"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestMain lets a test re-run this binary as another user: with
// LOCKDOWN_AUDIT_CHILD=1 it audits DOCKER_HOST and prints the error.
func TestMain(m *testing.M) {
	if os.Getenv("LOCKDOWN_AUDIT_CHILD") == "1" {
		rep, err := audit.Run(context.Background(), audit.Config{})
		fmt.Printf("report=%v\nerror=%v\n", rep != nil, err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func writeReport(t *testing.T, rep *model.Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteReport(&b, format, rep, report.Options{}); err != nil {
		t.Fatalf("WriteReport %s: %v", format, err)
	}
	return b.String()
}

// TestPermissionDenied runs the audit as nobody against the real socket
// (root:docker 0660).
func TestPermissionDenied(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireDocker(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ldaudit-perm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "audit.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()

	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{"LOCKDOWN_AUDIT_CHILD=1", "DOCKER_HOST=unix:///var/run/docker.sock", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "report=false") || !strings.Contains(got, "permission denied") || !strings.Contains(got, "docker engine at unix:///var/run/docker.sock") {
		t.Errorf("audit as nobody printed %q, want no report and a permission denied error naming the socket", got)
	}
}
