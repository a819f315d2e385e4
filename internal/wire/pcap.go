package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxSnaplen bounds the bytes kept of one packet, in captures and in the
// records of files read.
const MaxSnaplen = 262144

// maxBlock bounds one pcapng block (packet blocks, and the other blocks a
// reader skips).
const maxBlock = 16 << 20

// Record is one captured packet.
type Record struct {
	Time     time.Time
	LinkType int
	// Data is the captured bytes: valid until the next call to Next.
	Data    []byte
	OrigLen int // the packet's length on the wire
}

// FormatError is a pcap or pcapng file that is not well formed.
type FormatError struct {
	Offset int64 // of the header or block at fault
	Msg    string
}

func (e *FormatError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// Reader reads classic pcap (microsecond and nanosecond, either byte
// order) and pcapng files (section header, interface description,
// enhanced, simple and obsolete packet blocks; other blocks skipped).
type Reader struct {
	r   *bufio.Reader
	off int64
	buf []byte
	ng  bool

	// classic pcap
	order    binary.ByteOrder
	nano     bool
	linkType int
	snaplen  int

	// pcapng
	ifaces []ngIface
	n      int // records read
	hdr    [16]byte
}

type ngIface struct {
	linkType int
	snaplen  int
	tsUnit   time.Duration // one timestamp tick, when >= 1ns
	tsPerSec uint64        // ticks per second
}

// NewReader reads the file header.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	var magic [4]byte
	if _, err := io.ReadFull(rd.r, magic[:]); err != nil {
		return nil, &FormatError{0, "not a pcap or pcapng file: " + shortRead(err)}
	}
	switch m := binary.LittleEndian.Uint32(magic[:]); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		rd.order, rd.nano = binary.LittleEndian, m == 0xa1b23c4d
	case 0xd4c3b2a1, 0x4d3cb2a1:
		rd.order, rd.nano = binary.BigEndian, m == 0x4d3cb2a1
	case ngSHB:
		rd.ng = true
		var l [4]byte
		if _, err := io.ReadFull(rd.r, l[:]); err != nil {
			return nil, &FormatError{0, "pcapng section header: " + shortRead(err)}
		}
		if err := rd.readSHB(0, l[:]); err != nil {
			return nil, err
		}
		return rd, nil
	default:
		return nil, &FormatError{0, fmt.Sprintf("not a pcap or pcapng file (magic %x)", magic)}
	}
	var h [20]byte
	if _, err := io.ReadFull(rd.r, h[:]); err != nil {
		return nil, &FormatError{0, "pcap header: " + shortRead(err)}
	}
	rd.off = 24
	if major := rd.order.Uint16(h[0:]); major != 2 {
		return nil, &FormatError{4, fmt.Sprintf("pcap version %d.%d is not 2.4", major, rd.order.Uint16(h[2:]))}
	}
	rd.snaplen = int(rd.order.Uint32(h[12:]))
	rd.linkType = int(rd.order.Uint32(h[16:]) & 0xffff)
	if rd.snaplen == 0 || rd.snaplen > MaxSnaplen {
		rd.snaplen = MaxSnaplen
	}
	return rd, nil
}

func shortRead(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the file ends early"
	}
	return err.Error()
}

// Next returns the next packet, or io.EOF after the last.
func (rd *Reader) Next() (Record, error) {
	if rd.ng {
		return rd.nextNG()
	}
	start := rd.off
	h := rd.hdr[:]
	n, err := io.ReadFull(rd.r, h)
	if err == io.EOF && n == 0 {
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, &FormatError{start, fmt.Sprintf("record %d header: %s", rd.n+1, shortRead(err))}
	}
	capLen := rd.order.Uint32(h[8:])
	origLen := rd.order.Uint32(h[12:])
	if capLen > uint32(rd.snaplen) && capLen > MaxSnaplen {
		return Record{}, &FormatError{start, fmt.Sprintf("record %d claims %d captured bytes, more than the maximum %d", rd.n+1, capLen, MaxSnaplen)}
	}
	if origLen < capLen {
		origLen = capLen
	}
	if err := rd.fill(int(capLen)); err != nil {
		return Record{}, &FormatError{start, fmt.Sprintf("record %d of %d bytes: %s", rd.n+1, capLen, shortRead(err))}
	}
	rd.off += 16 + int64(capLen)
	rd.n++
	sec, frac := int64(rd.order.Uint32(h[0:])), int64(rd.order.Uint32(h[4:]))
	if !rd.nano {
		frac *= 1000
	}
	return Record{Time: time.Unix(sec, frac).UTC(), LinkType: rd.linkType, Data: rd.buf, OrigLen: int(origLen)}, nil
}

// fill reads n bytes into rd.buf.
func (rd *Reader) fill(n int) error {
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	rd.buf = rd.buf[:n]
	_, err := io.ReadFull(rd.r, rd.buf)
	return err
}

// ---- pcapng

const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 1
	ngOPB = 2 // obsolete packet block
	ngSPB = 3
	ngEPB = 6
)

// readSHB reads the rest of a section header block that starts at start,
// whose type and total length (lenBytes, in the section's byte order, not
// yet known) were read.
func (rd *Reader) readSHB(start int64, lenBytes []byte) error {
	var bom [4]byte
	if _, err := io.ReadFull(rd.r, bom[:]); err != nil {
		return &FormatError{start, "pcapng section header: " + shortRead(err)}
	}
	switch binary.LittleEndian.Uint32(bom[:]) {
	case 0x1a2b3c4d:
		rd.order = binary.LittleEndian
	case 0x4d3c2b1a:
		rd.order = binary.BigEndian
	default:
		return &FormatError{start, "pcapng section header without its byte-order magic"}
	}
	total := rd.order.Uint32(lenBytes)
	if total < 28 || total%4 != 0 || total > maxBlock {
		return &FormatError{start, fmt.Sprintf("pcapng section header of %d bytes", total)}
	}
	if err := rd.fill(int(total) - 12); err != nil {
		return &FormatError{start, "pcapng section header: " + shortRead(err)}
	}
	if major := rd.order.Uint16(rd.buf[0:]); major != 1 {
		return &FormatError{start, fmt.Sprintf("pcapng version %d is not 1", major)}
	}
	if rd.order.Uint32(rd.buf[len(rd.buf)-4:]) != total {
		return &FormatError{start, "pcapng section header: trailing length differs"}
	}
	rd.off = start + int64(total)
	rd.ifaces = rd.ifaces[:0] // interfaces are per section
	return nil
}

func (rd *Reader) nextNG() (Record, error) {
	for {
		start := rd.off
		h := rd.hdr[:8]
		n, err := io.ReadFull(rd.r, h)
		if err == io.EOF && n == 0 {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, &FormatError{start, "pcapng block header: " + shortRead(err)}
		}
		typ := rd.order.Uint32(h[0:])
		if binary.LittleEndian.Uint32(h[0:]) == ngSHB {
			// A new section: its byte order may differ.
			if err := rd.readSHB(start, h[4:]); err != nil {
				return Record{}, err
			}
			continue
		}
		total := rd.order.Uint32(h[4:])
		if total < 12 || total%4 != 0 || total > maxBlock {
			return Record{}, &FormatError{start, fmt.Sprintf("pcapng block of type %d claims %d bytes", typ, total)}
		}
		if err := rd.fill(int(total) - 8); err != nil {
			return Record{}, &FormatError{start, fmt.Sprintf("pcapng block of type %d and %d bytes: %s", typ, total, shortRead(err))}
		}
		rd.off = start + int64(total)
		body := rd.buf[:len(rd.buf)-4]
		if rd.order.Uint32(rd.buf[len(rd.buf)-4:]) != total {
			return Record{}, &FormatError{start, fmt.Sprintf("pcapng block of type %d: trailing length differs", typ)}
		}
		switch typ {
		case ngIDB:
			if err := rd.readIDB(start, body); err != nil {
				return Record{}, err
			}
		case ngEPB, ngOPB:
			return rd.packetBlock(start, typ, body)
		case ngSPB:
			if len(rd.ifaces) == 0 {
				return Record{}, &FormatError{start, "pcapng simple packet block before any interface description"}
			}
			if len(body) < 4 {
				return Record{}, &FormatError{start, "pcapng simple packet block too short"}
			}
			iface := rd.ifaces[0]
			orig := int(rd.order.Uint32(body))
			data := body[4:]
			capLen := min(orig, len(data), iface.snaplen)
			rd.n++
			return Record{LinkType: iface.linkType, Data: data[:capLen], OrigLen: max(orig, capLen)}, nil
		}
	}
}

func (rd *Reader) readIDB(start int64, body []byte) error {
	if len(body) < 8 {
		return &FormatError{start, "pcapng interface description too short"}
	}
	if len(rd.ifaces) >= 1024 {
		return &FormatError{start, "more than 1024 pcapng interfaces"}
	}
	in := ngIface{linkType: int(rd.order.Uint16(body[0:])), snaplen: int(rd.order.Uint32(body[4:])), tsUnit: time.Microsecond, tsPerSec: 1_000_000}
	if in.snaplen == 0 || in.snaplen > MaxSnaplen {
		in.snaplen = MaxSnaplen
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code, l := rd.order.Uint16(opts[0:]), int(rd.order.Uint16(opts[2:]))
		if code == 0 {
			break
		}
		if 4+l > len(opts) {
			return &FormatError{start, "pcapng interface option runs past its block"}
		}
		if code == 9 && l >= 1 { // if_tsresol
			v := opts[4]
			var perSec uint64 = 1
			if v&0x80 != 0 {
				if v&0x7f > 63 {
					return &FormatError{start, fmt.Sprintf("pcapng timestamp resolution 2^-%d", v&0x7f)}
				}
				perSec = 1 << (v & 0x7f)
			} else {
				if v > 19 {
					return &FormatError{start, fmt.Sprintf("pcapng timestamp resolution 10^-%d", v)}
				}
				for range v {
					perSec *= 10
				}
			}
			in.tsPerSec = perSec
		}
		opts = opts[4+(l+3)&^3:]
	}
	rd.ifaces = append(rd.ifaces, in)
	return nil
}

func (rd *Reader) packetBlock(start int64, typ uint32, body []byte) (Record, error) {
	if len(body) < 20 {
		return Record{}, &FormatError{start, "pcapng packet block too short"}
	}
	var id int
	if typ == ngEPB {
		id = int(rd.order.Uint32(body[0:]))
	} else {
		id = int(rd.order.Uint16(body[0:]))
	}
	if id >= len(rd.ifaces) {
		return Record{}, &FormatError{start, fmt.Sprintf("pcapng packet of interface %d, which was not described", id)}
	}
	iface := rd.ifaces[id]
	ts := uint64(rd.order.Uint32(body[4:]))<<32 | uint64(rd.order.Uint32(body[8:]))
	capLen := int(rd.order.Uint32(body[12:]))
	orig := int(rd.order.Uint32(body[16:]))
	if capLen > len(body)-20 || capLen > MaxSnaplen {
		return Record{}, &FormatError{start, fmt.Sprintf("pcapng packet claims %d captured bytes in a block of %d", capLen, len(body)+12)}
	}
	rd.n++
	sec := ts / iface.tsPerSec
	frac := ts % iface.tsPerSec
	nsec := frac * 1_000_000_000 / iface.tsPerSec
	if iface.tsPerSec > 1_000_000_000 {
		nsec = frac / (iface.tsPerSec / 1_000_000_000)
	}
	return Record{Time: time.Unix(int64(sec), int64(nsec)).UTC(), LinkType: iface.linkType, Data: body[20 : 20+capLen], OrigLen: max(orig, capLen)}, nil
}

// ---- writer

// Writer writes a classic pcap file (microsecond timestamps, little
// endian).
type Writer struct {
	w       *bufio.Writer
	snaplen int
	hdr     [16]byte
}

// NewWriter writes the file header for packets of link type lt cut to
// snaplen bytes.
func NewWriter(w io.Writer, lt, snaplen int) (*Writer, error) {
	if snaplen <= 0 || snaplen > MaxSnaplen {
		return nil, fmt.Errorf("pcap snap length %d: want 1 to %d", snaplen, MaxSnaplen)
	}
	pw := &Writer{w: bufio.NewWriterSize(w, 64<<10), snaplen: snaplen}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(h[20:], uint32(lt))
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, err
	}
	return pw, nil
}

// Write appends one packet, cut to the snap length.
func (pw *Writer) Write(r Record) error {
	data := r.Data
	if len(data) > pw.snaplen {
		data = data[:pw.snaplen]
	}
	orig := max(r.OrigLen, len(r.Data))
	us := r.Time.UnixMicro()
	binary.LittleEndian.PutUint32(pw.hdr[0:], uint32(us/1_000_000))
	binary.LittleEndian.PutUint32(pw.hdr[4:], uint32(us%1_000_000))
	binary.LittleEndian.PutUint32(pw.hdr[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(pw.hdr[12:], uint32(orig))
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return err
	}
	_, err := pw.w.Write(data)
	return err
}

// Flush writes what is buffered.
func (pw *Writer) Flush() error { return pw.w.Flush() }
