package observe

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sampleRecord = `audit(1796286833.385:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=11180 comm="runc:[2:INIT]" exe="/usr/bin/my app" sig=0 arch=c000003e syscall=257 compat=0 ip=0x40828e code=0x7ffc0000`

func TestParseRecord(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    Record
		wantErr bool
	}{
		{name: "log", in: sampleRecord, want: Record{PID: 11180, Arch: 0xc000003e, Syscall: 257, Code: ActionLog}},
		{name: "kernel log prefix", in: "audit: type=1326 " + sampleRecord, want: Record{PID: 11180, Arch: 0xc000003e, Syscall: 257, Code: ActionLog}},
		{name: "errno with hex comm", in: `audit(1.2:3): auid=0 uid=1000 gid=1000 ses=1 subj=unconfined pid=7 comm=6D7920636F6D6D exe="/bin/x" sig=0 arch=40000003 syscall=11 compat=1 ip=0xf7f0 code=0x50001`,
			want: Record{PID: 7, Arch: 0x40000003, Syscall: 11, Code: 0x50001}},
		{name: "x32", in: `pid=9 arch=c000003e syscall=1073741825 code=0x7ffc0000`, want: Record{PID: 9, Arch: 0xc000003e, Syscall: 1073741825, Code: ActionLog}},
		{name: "missing syscall", in: `pid=9 arch=c000003e code=0x7ffc0000`, wantErr: true},
		{name: "bad pid", in: `pid=x9 arch=c000003e syscall=1 code=0x7ffc0000`, wantErr: true},
		{name: "zero pid", in: `pid=0 arch=c000003e syscall=1 code=0x7ffc0000`, wantErr: true},
		{name: "unterminated quote", in: `pid=9 comm="abc arch=c000003e syscall=1 code=0x7ffc0000`, wantErr: true},
		{name: "too large", in: `pid=9 arch=1c000003e syscall=1 code=0x7ffc0000`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRecord([]byte(c.in))
			if (err != nil) != c.wantErr {
				t.Fatalf("ParseRecord(%q) error = %v, want error %v", c.in, err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("ParseRecord(%q) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
}

func TestRecordExe(t *testing.T) {
	for in, want := range map[string]string{
		sampleRecord: "/usr/bin/my app",
		`pid=7 comm=6D79 exe=2F62696E2F612062 sig=0`: "/bin/a b",
		`pid=7 exe="/bin/sh" sig=0`:                  "/bin/sh",
		`pid=7 sig=0`:                                "",
		`pid=7 exe="/bin/sh`:                         "",
		`pid=7 exe=zz`:                               "",
	} {
		if got := RecordExe([]byte(in)); got != want {
			t.Errorf("RecordExe(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(sampleRecord))
	f.Add([]byte(`pid=7 arch=40000003 syscall=11 code=0x50001`))
	f.Add([]byte(`pid="1" arch= syscall==1 code=0x`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err == nil && r.PID <= 0 {
			t.Fatalf("accepted pid %d", r.PID)
		}
	})
}

func BenchmarkParseRecord(b *testing.B) {
	in := []byte(sampleRecord)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRecord(in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAuditMessage(t *testing.T) {
	text := []byte("audit(1.2:3): pid=1\x00") // 20 bytes + header: unpadded, 37 would be 40 aligned
	text = append(text, 'x')
	msg := make([]byte, 16+len(text))
	binary.NativeEndian.PutUint32(msg[0:], uint32(16+len(text)-1)) // the trailing x is past nlmsg_len
	binary.NativeEndian.PutUint16(msg[4:], 1326)
	copy(msg[16:], text)
	typ, data, ok := auditMessage(msg)
	if !ok || typ != 1326 || string(data) != "audit(1.2:3): pid=1" {
		t.Errorf("auditMessage = %d, %q, %v; want 1326, the text without NUL, true", typ, data, ok)
	}
	if _, _, ok := auditMessage(msg[:10]); ok {
		t.Errorf("auditMessage of a short datagram: ok")
	}
}

func TestDescendants(t *testing.T) {
	forks := []forkEvent{
		{parent: 1, child: 50},  // an earlier process with the root's PID…
		{parent: 50, child: 51}, // …and its child: not ours
		{parent: 10, child: 50}, // the root, created
		{parent: 50, child: 60},
		{parent: 60, child: 61},
		{parent: 99, child: 70}, // unrelated
		{parent: 61, child: 62},
		{parent: 300, child: 400}, // exec root before it is known as one
		{parent: 400, child: 401},
	}
	got := descendants(forks, []int{50, 400, 500})
	want := map[int]bool{50: true, 60: true, 61: true, 62: true, 400: true, 401: true, 500: true}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("descendants (-want +got):\n%s", d)
	}
}

func TestParseForkEvent(t *testing.T) {
	b := make([]byte, cnMsgLen+procEventHeaderLen+16)
	le := binary.NativeEndian
	le.PutUint32(b[0:], cnIdxProc)
	le.PutUint32(b[4:], cnValProc)
	le.PutUint32(b[cnMsgLen:], procEventFork)
	d := b[cnMsgLen+procEventHeaderLen:]
	le.PutUint32(d[0:], 10)
	le.PutUint32(d[4:], 10)
	le.PutUint32(d[8:], 11)
	le.PutUint32(d[12:], 11)
	if ev, ok := parseForkEvent(b); !ok || ev != (forkEvent{parent: 10, child: 11}) {
		t.Errorf("parseForkEvent = %+v, %v; want {10 11}, true", ev, ok)
	}
	le.PutUint32(d[12:], 10) // a new thread of 10
	if _, ok := parseForkEvent(b); ok {
		t.Errorf("parseForkEvent of a thread: ok")
	}
	if _, ok := parseForkEvent(b[:20]); ok {
		t.Errorf("parseForkEvent of a short message: ok")
	}
}

func TestCheckSeccompLog(t *testing.T) {
	dir := t.TempDir()
	write := func(avail, logged string) {
		writeFile(t, dir+"/actions_avail", avail)
		writeFile(t, dir+"/actions_logged", logged)
	}
	write("kill_process kill_thread trap errno user_notif trace log allow\n", "kill_process kill_thread trap errno user_notif trace log\n")
	if err := CheckSeccompLog(dir); err != nil {
		t.Errorf("CheckSeccompLog = %v, want nil", err)
	}
	write("kill_process errno allow\n", "kill_process errno\n")
	if err := CheckSeccompLog(dir); err == nil || err.Error() != `seccomp logging is not available: the kernel's `+dir+`/actions_avail ("kill_process errno allow") has no "log" action` {
		t.Errorf("CheckSeccompLog without log = %v", err)
	}
	if err := CheckSeccompLog(dir + "/missing"); err == nil {
		t.Errorf("CheckSeccompLog of a missing dir = nil")
	}
}
