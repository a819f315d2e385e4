package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// FilterProgram compiles f into a classic BPF program for a packet socket
// of type SOCK_DGRAM (packets start at the IP header): it keeps IP packets
// between f.A and f.B in either direction, cut to snaplen bytes, and drops
// everything else in the kernel, so nothing else is ever copied out.
func FilterProgram(f Filter, snaplen int) ([]bpf.Instruction, error) {
	if snaplen <= 0 || snaplen > MaxSnaplen {
		return nil, fmt.Errorf("snap length %d: want 1 to %d", snaplen, MaxSnaplen)
	}
	var a asm
	a.emit(bpf.LoadAbsolute{Off: 0, Size: 1}, "", "")
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4}, "", "")
	if !f.A.IsValid() {
		a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4}, "accept", "")
		a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6}, "accept", "drop")
	} else {
		src, dst, ver := uint32(12), uint32(16), uint32(4)
		if f.A.Addr().Is6() {
			src, dst, ver = 8, 24, 6
		}
		a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: ver}, "", "drop")
		a.match(src, f.A, "srcA", "trySrcB")
		a.label("srcA")
		a.match(dst, f.B, "accept", "trySrcB")
		a.label("trySrcB")
		a.match(src, f.B, "srcB", "drop")
		a.label("srcB")
		a.match(dst, f.A, "accept", "drop")
	}
	a.label("accept")
	a.emit(bpf.RetConstant{Val: uint32(snaplen)}, "", "")
	a.label("drop")
	a.emit(bpf.RetConstant{Val: 0}, "", "")
	return a.assemble()
}

// asm is a tiny assembler with named jump targets ("" = the next
// instruction).
type asm struct {
	ins    []bpf.Instruction
	jt, jf []string
	labels map[string]int
}

func (a *asm) emit(in bpf.Instruction, jt, jf string) {
	a.ins = append(a.ins, in)
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

// match compares the address at off with prefix p, word by word.
func (a *asm) match(off uint32, p netip.Prefix, yes, no string) {
	addr := p.Addr().AsSlice()
	bits := p.Bits()
	words := len(addr) / 4
	last := 0
	for i := range words {
		if bits-32*i > 0 {
			last = i
		}
	}
	if bits == 0 {
		a.emit(bpf.Jump{}, yes, "") // matches everything
		return
	}
	for i := 0; i <= last; i++ {
		wb := min(bits-32*i, 32)
		mask := uint32(0xffffffff) << (32 - wb)
		val := binary.BigEndian.Uint32(addr[4*i:]) & mask
		a.emit(bpf.LoadAbsolute{Off: off + uint32(4*i), Size: 4}, "", "")
		if wb < 32 {
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask}, "", "")
		}
		next := ""
		if i == last {
			next = yes
		}
		a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: val}, next, no)
	}
}

// assemble resolves the jump targets.
func (a *asm) assemble() ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(a.ins))
	skip := func(i int, name string) (uint8, error) {
		if name == "" {
			return 0, nil
		}
		t, ok := a.labels[name]
		if !ok || t <= i || t-i-1 > 255 {
			return 0, fmt.Errorf("bpf: jump from %d to %q out of range", i, name)
		}
		return uint8(t - i - 1), nil
	}
	for i, in := range a.ins {
		switch in := in.(type) {
		case bpf.JumpIf:
			jt, err := skip(i, a.jt[i])
			if err != nil {
				return nil, err
			}
			jf, err := skip(i, a.jf[i])
			if err != nil {
				return nil, err
			}
			in.SkipTrue, in.SkipFalse = jt, jf
			out[i] = in
		case bpf.Jump:
			k, err := skip(i, a.jt[i])
			if err != nil {
				return nil, err
			}
			in.Skip = uint32(k)
			out[i] = in
		default:
			out[i] = in
		}
	}
	return out, nil
}
