package rpmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hdrEntry is one tag for buildHeader.
type hdrEntry struct {
	tag, typ uint32
	value    any // string or int32
}

// buildHeader writes a header blob: an immutable region holding region
// entries, then dribble entries after it, as rpm writes installed headers.
func buildHeader(region, dribble []hdrEntry) []byte {
	var store bytes.Buffer
	type idx struct{ tag, typ, off, count uint32 }
	var entries []idx
	add := func(e hdrEntry) {
		switch v := e.value.(type) {
		case string:
			entries = append(entries, idx{e.tag, e.typ, uint32(store.Len()), 1})
			store.WriteString(v)
			store.WriteByte(0)
		case int32:
			for store.Len()%4 != 0 {
				store.WriteByte(0)
			}
			entries = append(entries, idx{e.tag, e.typ, uint32(store.Len()), 1})
			binary.Write(&store, binary.BigEndian, v)
		}
	}
	for _, e := range region {
		add(e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	ril := uint32(len(entries) + 1)
	// Trailer: tag 63, BIN, offset -(ril*16), count 16.
	trailerOff := uint32(store.Len())
	binary.Write(&store, binary.BigEndian, []uint32{tagHeaderImmutable, typeBin, uint32(-int32(ril * entrySize)), entrySize})
	entries = append([]idx{{tagHeaderImmutable, typeBin, trailerOff, entrySize}}, entries...)
	for _, e := range dribble {
		add(e)
	}
	var out bytes.Buffer
	binary.Write(&out, binary.BigEndian, []uint32{uint32(len(entries)), uint32(store.Len())})
	for _, e := range entries {
		binary.Write(&out, binary.BigEndian, []uint32{e.tag, e.typ, e.off, e.count})
	}
	out.Write(store.Bytes())
	return out.Bytes()
}

var basic = []hdrEntry{
	{tagName, typeString, "bash"},
	{tagVersion, typeString, "5.1.8"},
	{tagRelease, typeString, "6.el9"},
	{tagArch, typeString, "x86_64"},
	{tagSourceRPM, typeString, "bash-5.1.8-6.el9.src.rpm"},
	{tagLicense, typeString, "GPLv3+"},
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		blob    []byte
		want    Header
		wantErr bool
	}{
		{
			name: "basic",
			blob: buildHeader(basic, nil),
			want: Header{Name: "bash", Version: "5.1.8", Release: "6.el9", Arch: "x86_64", SourceRPM: "bash-5.1.8-6.el9.src.rpm", License: "GPLv3+"},
		},
		{
			name: "epoch and modularity label",
			blob: buildHeader(append(append([]hdrEntry{}, basic...),
				hdrEntry{tagEpoch, typeInt32, int32(2)},
				hdrEntry{tagModularityLabel, typeString, "perl:5.26:8040020200923213406:ee766497"}), nil),
			want: Header{Name: "bash", Version: "5.1.8", Release: "6.el9", Arch: "x86_64", Epoch: 2, HasEpoch: true,
				SourceRPM: "bash-5.1.8-6.el9.src.rpm", License: "GPLv3+", ModularityLabel: "perl:5.26:8040020200923213406:ee766497"},
		},
		{
			name: "dribble replaces region entry",
			blob: buildHeader(basic, []hdrEntry{{tagRelease, typeString, "7.el9"}}),
			want: Header{Name: "bash", Version: "5.1.8", Release: "7.el9", Arch: "x86_64", SourceRPM: "bash-5.1.8-6.el9.src.rpm", License: "GPLv3+"},
		},
		{
			name: "i18n string and string array are read as their first string",
			blob: buildHeader([]hdrEntry{{tagName, typeI18NString, "n"}, {tagVersion, typeStringArray, "1"}}, nil),
			want: Header{Name: "n", Version: "1"},
		},
		{name: "empty", blob: nil, wantErr: true},
		{name: "zero entries", blob: []byte{0, 0, 0, 0, 0, 0, 0, 0}, wantErr: true},
		{name: "too many entries", blob: []byte{0, 1, 0, 0, 0, 0, 0, 0}, wantErr: true},
		{name: "truncated", blob: buildHeader(basic, nil)[:60], wantErr: true},
		{name: "name of type int32", blob: buildHeader([]hdrEntry{{tagName, typeInt32, int32(1)}}, nil), wantErr: true},
		{name: "epoch of type string", blob: buildHeader([]hdrEntry{{tagEpoch, typeString, "1"}}, nil), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.blob)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHeader() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrBadHeader) {
					t.Errorf("ParseHeader() error = %v, want ErrBadHeader", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseHeader() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHeaderCorruptions(t *testing.T) {
	good := buildHeader(basic, nil)
	il := binary.BigEndian.Uint32(good)
	storeOff := 8 + il*entrySize
	tests := map[string]func(b []byte){
		"string offset past the store": func(b []byte) { binary.BigEndian.PutUint32(b[8+1*entrySize+8:], 1<<20) },
		"negative offset":              func(b []byte) { binary.BigEndian.PutUint32(b[8+1*entrySize+8:], 0xfffffff0) },
		"unterminated string": func(b []byte) {
			for i := storeOff; i < uint32(len(b)); i++ {
				if b[i] == 0 {
					b[i] = 'x'
				}
			}
		},
		"region trailer out of range": func(b []byte) { binary.BigEndian.PutUint32(b[8+8:], 1<<20) },
		"region with wrong count":     func(b []byte) { binary.BigEndian.PutUint32(b[8+12:], 3) },
		"data length larger than blob": func(b []byte) {
			binary.BigEndian.PutUint32(b[4:], binary.BigEndian.Uint32(b[4:])+1)
		},
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(good)
			corrupt(b)
			if h, err := ParseHeader(b); !errors.Is(err, ErrBadHeader) {
				t.Errorf("ParseHeader(%s) = %+v, %v; want ErrBadHeader", name, h, err)
			}
		})
	}
}

func TestHeaderPackage(t *testing.T) {
	h := Header{Name: "perl-IO", Version: "1.38", Release: "416.el8", Epoch: 1, HasEpoch: true, Arch: "x86_64",
		SourceRPM: "perl-5.26.3-416.el8.src.rpm", ModularityLabel: "perl:5.26:1:2", License: "GPL+"}
	p, err := h.Package()
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "1:1.38-416.el8" || p.Epoch != 1 || p.SourceName != "perl" || p.SourceVersion != "5.26.3-416.el8" || p.Modularity != "perl:5.26:1:2" {
		t.Errorf("Package() = %+v", p)
	}
	h.Epoch, h.HasEpoch = 0, true
	if p, _ := h.Package(); p.Version != "1.38-416.el8" {
		t.Errorf("Package(epoch 0).Version = %q, want 1.38-416.el8", p.Version)
	}
	if _, err := (Header{Name: "x"}).Package(); err == nil {
		t.Errorf("Package(no version) error = nil, want one")
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, b := range realBlobs(f, "sle15-bci.Packages.db")[:3] {
		f.Add(b)
	}
	f.Add(buildHeader(basic, []hdrEntry{{tagEpoch, typeInt32, int32(1)}}))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, err := ParseHeader(blob)
		if err != nil {
			return
		}
		_, _ = h.Package()
	})
}

func BenchmarkParseHeader(b *testing.B) {
	blobs := realBlobs(b, "sle15-bci.Packages.db")
	b.ReportAllocs()
	for b.Loop() {
		for _, blob := range blobs {
			if _, err := ParseHeader(blob); err != nil {
				b.Fatal(err)
			}
		}
	}
}
