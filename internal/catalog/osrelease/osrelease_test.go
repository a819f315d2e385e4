package osrelease

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  model.Distro
	}{
		{
			name: "debian 12",
			input: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`,
			want: model.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		},
		{
			name: "ubuntu 18.04 with ID_LIKE and CRLF",
			input: "NAME=\"Ubuntu\"\r\nVERSION=\"18.04.6 LTS (Bionic Beaver)\"\r\nID=ubuntu\r\nID_LIKE=debian\r\n" +
				"PRETTY_NAME=\"Ubuntu 18.04.6 LTS\"\r\nVERSION_ID=\"18.04\"\r\nUBUNTU_CODENAME=bionic\r\n",
			want: model.Distro{ID: "ubuntu", IDLike: []string{"debian"}, VersionID: "18.04", Codename: "bionic", PrettyName: "Ubuntu 18.04.6 LTS"},
		},
		{
			name:  "debian 8 codename only in VERSION",
			input: "PRETTY_NAME=\"Debian GNU/Linux 8 (jessie)\"\nVERSION_ID=\"8\"\nVERSION=\"8 (jessie)\"\nID=debian\n",
			want:  model.Distro{ID: "debian", VersionID: "8", Codename: "jessie", PrettyName: "Debian GNU/Linux 8 (jessie)"},
		},
		{
			name:  "rocky with several ID_LIKE, single quotes, comments",
			input: "# comment\nID='rocky'\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\n",
			want:  model.Distro{ID: "rocky", IDLike: []string{"rhel", "centos", "fedora"}, VersionID: "9.4", PrettyName: "Rocky Linux 9.4 (Blue Onyx)"},
		},
		{
			name:  "escapes in double quotes",
			input: `ID=x` + "\n" + `PRETTY_NAME="a \"quoted\" \$name \\ end"` + "\n",
			want:  model.Distro{ID: "x", PrettyName: `a "quoted" $name \ end`},
		},
		{
			name:  "debian sid without VERSION_ID",
			input: "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n",
			want:  model.Distro{ID: "debian", Codename: "trixie", PrettyName: "Debian GNU/Linux trixie/sid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for name, input := range map[string]string{
		"empty":     "",
		"no ID":     "NAME=foo\nVERSION_ID=1\n",
		"garbage":   "\x00\x01\x02 not an os-release\n",
		"long line": "ID=x" + strings.Repeat("y", MaxFileSize+1),
	} {
		t.Run(name, func(t *testing.T) {
			if d, err := Parse(strings.NewReader(input)); err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", name, d)
			}
		})
	}
}

// TestParseAgainstShell compares Parse on real os-release files with what
// the shell makes of them when it sources the file (os-release is defined
// to be shell-compatible), an independent reading.
func TestParseAgainstShell(t *testing.T) {
	testutil.RequireCmd(t, "sh")
	files := map[string]func(t *testing.T) []byte{
		"host": func(t *testing.T) []byte {
			data, err := os.ReadFile("/etc/os-release")
			if err != nil {
				t.Skipf("no /etc/os-release on this machine: %v", err)
			}
			return data
		},
		"debian minbase": func(t *testing.T) []byte {
			data, err := os.ReadFile(filepath.Join(testutil.DebianRootfs(t), "usr/lib/os-release"))
			if err != nil {
				t.Fatal(err)
			}
			return data
		},
	}
	for _, v := range []string{"3.10.9", "3.11.13", "3.20.3"} {
		files["alpine "+v] = func(t *testing.T) []byte {
			archive := testutil.Data(t, "rootfs/alpine-minirootfs-"+v+"-x86_64.tar.gz")
			return testutil.TarGzFile(t, archive, "etc/os-release")
		}
	}
	for name, read := range files {
		t.Run(name, func(t *testing.T) {
			data := read(t)
			file := filepath.Join(t.TempDir(), "os-release")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			script := `. "$1"; printf '%s\n' "$ID" "$ID_LIKE" "$VERSION_ID" "${VERSION_CODENAME:-$UBUNTU_CODENAME}" "$PRETTY_NAME"`
			out, err := exec.CommandContext(context.Background(), "sh", "-c", script, "sh", file).Output()
			if err != nil {
				t.Fatalf("sh: %v", err)
			}
			f := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			want := model.Distro{ID: f[0], IDLike: strings.Fields(f[1]), VersionID: f[2], Codename: f[3], PrettyName: f[4]}
			got, err := Parse(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse() differs from sh (-sh +Parse):\n%s", diff)
			}
			if got.ID == "" || got.VersionID == "" {
				t.Errorf("Parse() = %+v, want ID and VERSION_ID", got)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	debian12 := "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"
	tests := []struct {
		name   string
		files  map[string]string
		want   model.Distro
		wantOK bool
	}{
		{
			name:   "os-release in /usr/lib only",
			files:  map[string]string{UsrLibOSRelease: debian12, DebianVersion: "12.11\n"},
			want:   model.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
			wantOK: true,
		},
		{
			name: "etc wins over usr/lib",
			files: map[string]string{
				EtcOSRelease:    "ID=alpine\nVERSION_ID=3.20.3\n",
				UsrLibOSRelease: debian12,
			},
			want:   model.Distro{ID: "alpine", VersionID: "3.20.3"},
			wantOK: true,
		},
		{
			name:   "broken etc falls back to usr/lib",
			files:  map[string]string{EtcOSRelease: "garbage", UsrLibOSRelease: debian12},
			want:   model.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
			wantOK: true,
		},
		{
			name:   "debian testing: codename from os-release, no number",
			files:  map[string]string{EtcOSRelease: "ID=debian\nVERSION_CODENAME=trixie\n", DebianVersion: "trixie/sid\n"},
			want:   model.Distro{ID: "debian", Codename: "trixie"},
			wantOK: true,
		},
		{
			name:   "debian without VERSION_ID but numbered debian_version",
			files:  map[string]string{EtcOSRelease: "ID=debian\n", DebianVersion: "11.7\n"},
			want:   model.Distro{ID: "debian", VersionID: "11"},
			wantOK: true,
		},
		{
			name:   "alpine edge: VERSION_ID from alpine-release",
			files:  map[string]string{EtcOSRelease: "ID=alpine\n", AlpineRelease: "3.21_alpha20240807\n"},
			want:   model.Distro{ID: "alpine", VersionID: "3.21_alpha20240807"},
			wantOK: true,
		},
		{
			name:   "alpine-release only",
			files:  map[string]string{AlpineRelease: "3.10.9\n"},
			want:   model.Distro{ID: "alpine", VersionID: "3.10.9", PrettyName: "Alpine Linux v3.10.9"},
			wantOK: true,
		},
		{
			name:   "centos 7 release file",
			files:  map[string]string{CentOSRelease: "CentOS Linux release 7.9.2009 (Core)\n", RedHatRelease: "CentOS Linux release 7.9.2009 (Core)\n"},
			want:   model.Distro{ID: "centos", VersionID: "7.9.2009", Codename: "Core", PrettyName: "CentOS Linux release 7.9.2009 (Core)"},
			wantOK: true,
		},
		{
			name:   "rhel",
			files:  map[string]string{RedHatRelease: "Red Hat Enterprise Linux release 8.6 (Ootpa)\n"},
			want:   model.Distro{ID: "rhel", VersionID: "8.6", Codename: "Ootpa", PrettyName: "Red Hat Enterprise Linux release 8.6 (Ootpa)"},
			wantOK: true,
		},
		{
			name:   "almalinux",
			files:  map[string]string{AlmaRelease: "AlmaLinux release 9.4 (Seafoam Ocelot)\n"},
			want:   model.Distro{ID: "almalinux", VersionID: "9.4", Codename: "Seafoam Ocelot", PrettyName: "AlmaLinux release 9.4 (Seafoam Ocelot)"},
			wantOK: true,
		},
		{
			name:   "debian_version only",
			files:  map[string]string{DebianVersion: "10.13\n"},
			want:   model.Distro{ID: "debian", VersionID: "10"},
			wantOK: true,
		},
		{
			name:   "nothing",
			files:  map[string]string{"/etc/hostname": "x"},
			wantOK: false,
		},
		{
			name:   "unknown redhat-like release line",
			files:  map[string]string{RedHatRelease: "Something else entirely\n"},
			wantOK: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(p string) ([]byte, bool) {
				s, ok := tt.files[p]
				return []byte(s), ok
			}
			got, ok := Detect(read)
			if ok != tt.wantOK {
				t.Fatalf("Detect() ok = %v, want %v (distro %+v)", ok, tt.wantOK, got)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Detect() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWants(t *testing.T) {
	for _, p := range Paths() {
		if !Wants(p) {
			t.Errorf("Wants(%q) = false, want true", p)
		}
	}
	for _, p := range []string{"/etc/os-release.d", "/etc", "etc/os-release", "/usr/lib/os-release/x"} {
		if Wants(p) {
			t.Errorf("Wants(%q) = true, want false", p)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("ID=debian\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n"))
	f.Add([]byte("ID='x'\nPRETTY_NAME=\"a \\\"b\\\"\"\nID_LIKE=\"rhel fedora\"\n"))
	f.Add([]byte("NAME=\"Ubuntu\"\r\nVERSION=\"18.04.6 LTS (Bionic Beaver)\"\r\nID=ubuntu\r\n"))
	f.Add([]byte("ID=\"\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d.ID == "" {
			t.Errorf("Parse(%q) = %+v with no error, want an ID", data, d)
		}
		// Parsing is a function of the content: the same bytes give the same answer.
		d2, err := Parse(bytes.NewReader(data))
		if err != nil || !cmp.Equal(d, d2) {
			t.Errorf("Parse(%q) not deterministic: %+v then %+v, %v", data, d, d2, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data := testutil.TarGzFile(b, testutil.Data(b, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"), "etc/os-release")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
