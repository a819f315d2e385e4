package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/nft"
)

// DefaultStateDir holds what was applied, per network namespace and table.
const DefaultStateDir = "/run/lockdown"

// Options configure an Applier. The zero value applies table "lockdown"
// in the caller's network namespace, detecting br_netfilter.
type Options struct {
	// Table is the table name ("" means DefaultTable).
	Table string
	// NetNS is the path of a network namespace to apply in (such as
	// /run/netns/NAME or /proc/PID/ns/net); "" means the caller's.
	NetNS string
	// StateDir keeps the applied state ("" means DefaultStateDir).
	StateDir string
	// Bridge says how bridged traffic is seen (BridgeAuto: detect).
	Bridge BridgeMode
	Logger *slog.Logger
	// dial replaces the netlink connection (tests of error handling).
	dial func(netnsFD int) (*nft.Conn, error)
}

// Applier applies compiled rulesets to one table in one network namespace.
type Applier struct {
	opts   Options
	log    *slog.Logger
	nsFD   int
	nsFile *os.File
	bridge bool
	state  string // state file path
}

// ErrUnavailable means nftables cannot be used here: not root, or no
// nf_tables in the kernel.
var ErrUnavailable = errors.New("nftables unavailable")

// NewApplier opens the network namespace and detects the bridge mode.
func NewApplier(opts Options) (*Applier, error) {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if nft.Name(opts.Table) != opts.Table {
		return nil, fmt.Errorf("table name %q: use letters, digits, '-', '_' or '.'", opts.Table)
	}
	if opts.StateDir == "" {
		opts.StateDir = DefaultStateDir
	}
	if opts.dial == nil {
		opts.dial = nft.Dial
	}
	a := &Applier{opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	nsID := "self"
	path := opts.NetNS
	if path == "" {
		path = "/proc/self/ns/net"
	} else {
		f, err := os.Open(opts.NetNS)
		if err != nil {
			return nil, fmt.Errorf("network namespace %s: %w", opts.NetNS, err)
		}
		a.nsFile, a.nsFD = f, int(f.Fd())
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		a.Close()
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	nsID = strconv.FormatUint(st.Ino, 10)
	a.state = filepath.Join(opts.StateDir, fmt.Sprintf("netns-%s-%s.json", nsID, opts.Table))
	mode := opts.Bridge
	if mode == BridgeAuto {
		m, err := detectBridgeMode(a.nsFD)
		if err != nil {
			a.Close()
			return nil, classify(err)
		}
		mode = m
	}
	a.bridge = mode == BridgeFamily
	return a, nil
}

// Close releases the namespace.
func (a *Applier) Close() error {
	if a.nsFile != nil {
		return a.nsFile.Close()
	}
	return nil
}

// Table is the table name.
func (a *Applier) Table() string { return a.opts.Table }

// BridgeTable reports whether a bridge-family table is compiled and applied.
func (a *Applier) BridgeTable() bool { return a.bridge }

// Compile compiles cfg for this applier's table and bridge mode.
func (a *Applier) Compile(cfg *netpol.Config) (*Ruleset, error) {
	return Compile(cfg, CompileOptions{Table: a.opts.Table, Bridge: a.bridge})
}

func (a *Applier) conn() (*nft.Conn, error) {
	c, err := a.opts.dial(a.nsFD)
	if err != nil {
		return nil, classify(err)
	}
	return c, nil
}

// classify turns the errors of a missing capability or a missing
// nf_tables into ErrUnavailable with the reason.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %v (applying rules needs root or CAP_NET_ADMIN)", ErrUnavailable, err)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("%w: %v (the kernel has no nf_tables)", ErrUnavailable, err)
	}
	return err
}

// State is what Apply recorded, in the state file.
type State struct {
	Table        string            `json:"table"`
	Families     []string          `json:"families"`
	Digest       string            `json:"digest"`
	StructDigest string            `json:"structDigest"`
	Applied      time.Time         `json:"applied"`
	Updated      time.Time         `json:"updated"`
	Endpoints    int               `json:"endpoints"`
	Policies     int               `json:"policies"`
	Chains       int               `json:"chains"`
	Rules        int               `json:"rules"`
	Sets         int               `json:"sets"`
	Elements     int               `json:"elements"`
	Kernel       map[string]string `json:"kernel"` // family → dump digest after our last write
	// KernelParts are the digests the Kernel ones combine (per family:
	// the rules, each set), so that a sets-only update re-reads only
	// those sets.
	KernelParts map[string]map[string]string `json:"kernelParts"`
	// SetDigests are, per family, the nft.SetDigest of each set written,
	// so that the next Apply rewrites only the sets that change.
	SetDigests map[string]map[string]string `json:"setDigests"`
	// ChainNames are, per family, the chains written.
	ChainNames map[string][]string `json:"chainNames"`
	// GenID is the nftables generation the Kernel digests were read in:
	// while it is unchanged, nobody has committed anything since, and the
	// tables need not be read again.
	GenID uint32 `json:"genID"`
}

func (a *Applier) readState() (*State, error) {
	b, err := os.ReadFile(a.state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", a.state, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read state %s: %w", a.state, err)
	}
	return &s, nil
}

func (a *Applier) writeState(s *State) error {
	if err := os.MkdirAll(a.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(a.opts.StateDir, ".state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), a.state)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write state %s: %w", a.state, err)
	}
	return nil
}

func families(rs *Ruleset) []nft.Family {
	var out []nft.Family
	for _, t := range rs.Tables {
		out = append(out, t.Family)
	}
	return out
}

// dumps reads the tables of the families; a missing table is absent
// from the map.
func (a *Applier) dumps(c *nft.Conn, fams []nft.Family) (map[nft.Family]*nft.Dump, error) {
	out := map[nft.Family]*nft.Dump{}
	for _, f := range fams {
		d, err := nft.Read(c, f, a.opts.Table)
		if errors.Is(err, nft.ErrNoTable) {
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		out[f] = d
	}
	return out, nil
}

// kernelDigests are the digests (a missing table's is "") and digest
// parts of the dumps.
func kernelDigests(fams []nft.Family, dumps map[nft.Family]*nft.Dump) (map[string]string, map[string]map[string]string) {
	out, parts := map[string]string{}, map[string]map[string]string{}
	for _, f := range fams {
		out[f.String()] = ""
		if d := dumps[f]; d != nil {
			out[f.String()], parts[f.String()] = d.Digest, d.Parts
		}
	}
	return out, parts
}

// Result says what Apply did.
type Result struct {
	Changed bool
	Counts  nft.Counts
	Took    time.Duration
}

// Apply makes rs the ruleset in force: nothing happens when it already is
// and nobody edited it. A table that is as Lockdown last wrote it is
// updated in place (nft.Apply: sets and chains are kept by name, elements
// rewritten only where they change, and packets see the old ruleset or
// the new one, never a mix and never neither); a missing or edited table
// is replaced whole in one transaction.
func (a *Applier) Apply(ctx context.Context, rs *Ruleset) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	start := time.Now()
	c, err := a.conn()
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	st, err := a.readState()
	if err != nil {
		a.log.Warn("ignoring unreadable state", "err", err)
		st = nil
	}
	fams := families(rs)
	var prior []*nft.Prior
	if st != nil {
		// What is in the kernel: as recorded when nothing was committed
		// since (same generation), else read.
		kd, inKernel := st.Kernel, map[string]*nft.Prior{}
		if gen, err := nft.GenID(c); err != nil || gen == 0 || gen != st.GenID {
			dumps, err := a.dumps(c, fams)
			if err != nil {
				return Result{}, err
			}
			kd, _ = kernelDigests(fams, dumps)
			for f, d := range dumps {
				p := &nft.Prior{}
				for _, ch := range d.Chains {
					p.Chains = append(p.Chains, ch.Name)
				}
				for _, s := range d.Sets {
					p.Sets = append(p.Sets, s.Name)
				}
				inKernel[f.String()] = p
			}
		} else {
			for fam, chains := range st.ChainNames {
				inKernel[fam] = &nft.Prior{Chains: chains, Sets: slices.Sorted(maps.Keys(st.SetDigests[fam]))}
			}
		}
		if st.Digest == rs.Digest && sameDigests(kd, st.Kernel, fams) {
			return Result{Changed: false, Counts: rs.Counts(), Took: time.Since(start)}, nil
		}
		prior = priors(st, rs, kd, inKernel)
	}
	var drop []nft.TableRef
	for _, f := range []nft.Family{nft.Inet, nft.Bridge} {
		if !slices.Contains(fams, f) {
			drop = append(drop, nft.TableRef{Family: f, Name: a.opts.Table})
		}
	}
	if err := nft.Apply(c, rs.Tables, prior, drop...); err != nil {
		if prior == nil {
			return Result{}, classify(err)
		}
		// The first transaction failed whole (nothing changed): the
		// table is not what the record says; replace it whole.
		a.log.Warn("update in place failed: replacing the table whole", "err", err)
		if err := nft.Apply(c, rs.Tables, nil, drop...); err != nil {
			return Result{}, classify(err)
		}
	}
	if err := a.record(c, rs); err != nil {
		return Result{}, err
	}
	return Result{Changed: true, Counts: rs.Counts(), Took: time.Since(start)}, nil
}

// priors describes, for each table of rs, the table in the kernel (its
// chains and sets in inKernel, its digest in kd) when it is exactly what
// the state records Lockdown wrote; nil otherwise: it is replaced whole.
func priors(st *State, rs *Ruleset, kd map[string]string, inKernel map[string]*nft.Prior) []*nft.Prior {
	out := make([]*nft.Prior, len(rs.Tables))
	for i, t := range rs.Tables {
		fam := t.Family.String()
		k := inKernel[fam]
		if k == nil || kd[fam] == "" || kd[fam] != st.Kernel[fam] || st.SetDigests[fam] == nil {
			continue
		}
		p := &nft.Prior{Chains: k.Chains, Sets: k.Sets, SetDigests: map[string]string{}}
		for _, name := range k.Sets {
			p.SetDigests[name] = st.SetDigests[fam][name]
		}
		out[i] = p
	}
	return out
}

func sameDigests(kernel, recorded map[string]string, fams []nft.Family) bool {
	for _, f := range fams {
		if kernel[f.String()] == "" || kernel[f.String()] != recorded[f.String()] {
			return false
		}
	}
	return true
}

// record dumps what is now in the kernel and writes the state file.
func (a *Applier) record(c *nft.Conn, rs *Ruleset) error {
	fams := families(rs)
	gen := a.genID(c)
	dumps, err := a.dumps(c, fams)
	if err != nil {
		return err
	}
	kd, parts := kernelDigests(fams, dumps)
	return a.writeRecord(rs, time.Now().UTC(), kd, parts, gen)
}

// genID is the nftables generation, 0 when it cannot be read (the next
// Apply reads the tables).
func (a *Applier) genID(c *nft.Conn) uint32 {
	gen, err := nft.GenID(c)
	if err != nil {
		a.log.Warn("nftables generation unknown", "err", err)
		return 0
	}
	return gen
}

func (a *Applier) writeRecord(rs *Ruleset, applied time.Time, kd map[string]string, parts map[string]map[string]string, gen uint32) error {
	counts := rs.Counts()
	st := &State{Table: a.opts.Table, Digest: rs.Digest, StructDigest: rs.StructDigest, Applied: applied, Updated: time.Now().UTC(),
		Endpoints: rs.Endpoints, Policies: rs.Policies, Chains: counts.Chains, Rules: counts.Rules,
		Sets: counts.Sets, Elements: counts.Elements, Kernel: kd, KernelParts: parts, SetDigests: map[string]map[string]string{},
		ChainNames: map[string][]string{}, GenID: gen}
	for _, t := range rs.Tables {
		st.Families = append(st.Families, t.Family.String())
		for _, ch := range t.Chains {
			st.ChainNames[t.Family.String()] = append(st.ChainNames[t.Family.String()], ch.Name)
		}
		sd := map[string]string{}
		for _, s := range t.Sets {
			sd[s.Name] = nft.SetDigest(t.Family, s)
		}
		st.SetDigests[t.Family.String()] = sd
	}
	return a.writeState(st)
}

// How an Update brought a ruleset into force.
const (
	UpdateUnchanged = "unchanged" // next was already in force
	UpdateSets      = "sets"      // only set elements were rewritten
	UpdateApplied   = "applied"   // the table(s) were replaced whole
)

// Update moves from prev (in force) to next. When only set elements
// differ (endpoints came, went or changed address), only those sets are
// rewritten, in one transaction, and every rule keeps its counters;
// otherwise, or when the table drifted, next is applied whole. It
// returns UpdateUnchanged, UpdateSets or UpdateApplied.
func (a *Applier) Update(ctx context.Context, prev, next *Ruleset) (string, error) {
	whole := func() (string, error) {
		res, err := a.Apply(ctx, next)
		if err != nil {
			return "", err
		}
		if !res.Changed {
			return UpdateUnchanged, nil
		}
		return UpdateApplied, nil
	}
	if prev == nil || prev.StructDigest != next.StructDigest || len(prev.Tables) != len(next.Tables) {
		return whole()
	}
	st, err := a.readState()
	if err != nil || st == nil || st.Digest != prev.Digest || st.KernelParts == nil {
		return whole()
	}
	if prev.Digest == next.Digest {
		return UpdateUnchanged, nil
	}
	c, err := a.conn()
	if err != nil {
		return "", err
	}
	defer c.Close()
	// The table is not re-read first: the drift check (Status, the
	// Enforcer's resync) compares it with the record, which keeps what
	// Lockdown wrote.
	gen := st.GenID
	for i, t := range next.Tables {
		var changed []string
		for _, s := range t.Sets {
			old := prev.Tables[i].Set(s.Name)
			if old == nil || nft.SetDigest(t.Family, old) != nft.SetDigest(t.Family, s) {
				changed = append(changed, s.Name)
			}
		}
		if len(changed) == 0 {
			continue
		}
		if err := nft.UpdateSets(c, t, changed); err != nil {
			// Someone deleted the table or a set: apply it whole.
			a.log.Warn("set update failed: applying the table whole", "err", err)
			return whole()
		}
		gen = a.genID(c)
		parts, err := nft.ReadSets(c, t.Family, t.Name, changed)
		if err != nil {
			return "", classify(err)
		}
		fam := t.Family.String()
		merged := maps.Clone(st.KernelParts[fam])
		maps.Copy(merged, parts)
		st.KernelParts[fam] = merged
		st.Kernel[fam] = nft.PartsDigest(merged)
	}
	return UpdateSets, a.writeRecord(next, st.Applied, st.Kernel, st.KernelParts, gen)
}

// Remove deletes Lockdown's tables (both families) and the state file.
// It reports whether there was a table.
func (a *Applier) Remove(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	c, err := a.conn()
	if err != nil {
		return false, err
	}
	defer c.Close()
	any := false
	for _, f := range []nft.Family{nft.Inet, nft.Bridge} {
		ok, err := nft.Remove(c, f, a.opts.Table)
		if err != nil {
			return any, classify(err)
		}
		any = any || ok
	}
	if err := os.Remove(a.state); err != nil && !errors.Is(err, os.ErrNotExist) {
		return any, fmt.Errorf("remove state: %w", err)
	}
	return any, nil
}
