package harden

import (
	"time"

	"github.com/lockdown-sec/lockdown/internal/harden/observe"
	"github.com/lockdown-sec/lockdown/internal/harden/seccomp"
)

// Plan is the hardened run configuration of one workload, with what it
// was learned from and whether a run of it passed.
type Plan struct {
	Subject    string   `json:"subject"` // "image REF" or "container NAME"
	Name       string   `json:"name"`    // service and profile name
	Image      string   `json:"image"`   // as given, or the container's image
	ImageID    string   `json:"imageId"`
	Platform   string   `json:"platform"`
	Entrypoint []string `json:"entrypoint,omitempty"` // set when it differs from the image's
	Cmd        []string `json:"cmd,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// EnvNames are the names of the environment variables the workload
	// ran with (values are not repeated here: they may be secrets).
	EnvNames []string `json:"envNames,omitempty"`
	Network  string   `json:"network"`
	// Sysctls are the namespaced kernel settings the workload ran with.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	Test    []string          `json:"test,omitempty"`

	User     string   `json:"user"`
	UserNote string   `json:"userNote,omitempty"`
	CapDrop  []string `json:"capDrop"`
	CapAdd   []string `json:"capAdd"`
	CapNote  string   `json:"capNote,omitempty"`
	ReadOnly bool     `json:"readOnly"`
	Tmpfs    []Tmpfs  `json:"tmpfs"`

	NoNewPrivileges bool     `json:"noNewPrivileges"`
	Memory          int64    `json:"memory"`   // bytes
	NanoCPUs        int64    `json:"nanoCpus"` // 1e9 = one CPU
	PidsLimit       int64    `json:"pidsLimit"`
	RestartPolicy   string   `json:"restartPolicy"`
	Healthcheck     []string `json:"healthcheck,omitempty"` // exec form

	Seccomp     *seccomp.Profile `json:"seccomp"`
	SeccompSize seccomp.Size     `json:"seccompSize"`
	AppArmor    AppArmor         `json:"apparmor"`
	SELinux     string           `json:"selinux"`

	Observed Observed `json:"observed"`
	Trials   []Trial  `json:"trials"`
	// Verified: the workload passed (its test command, or staying up)
	// under exactly this configuration.
	Verified bool `json:"verified"`
	// Fixes are the audit checks (lockdown audit docker) this
	// configuration makes pass; NotFixed those it leaves, with why.
	Fixes    []Fix `json:"fixes"`
	NotFixed []Fix `json:"notFixed,omitempty"`
}

// AppArmor is the generated AppArmor profile.
type AppArmor struct {
	Name    string `json:"name"`
	Profile string `json:"profile"`
	// Parsed is "ok" when apparmor_parser -Q accepted the profile, else
	// why not.
	Parsed string `json:"parsed"`
	// Enforced: the host kernel has AppArmor, so a run enforces it.
	Enforced bool   `json:"enforced"`
	Note     string `json:"note,omitempty"`
}

// Observed is what the observation run saw.
type Observed struct {
	Duration    time.Duration    `json:"duration"`
	Records     int              `json:"records"`
	Syscalls    []string         `json:"syscalls"`
	Executables []string         `json:"executables"`
	Changes     []observe.Change `json:"changes"`
	PeakMemory  int64            `json:"peakMemory"`
	PeakPids    int64            `json:"peakPids"`
	PeakCPU     float64          `json:"peakCpu"`
}

// Trial is one run of the workload.
type Trial struct {
	What     string        `json:"what"`
	Passed   bool          `json:"passed"`
	Reason   string        `json:"reason,omitempty"`
	Output   string        `json:"output,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Fix ties an audit check to the setting that addresses it.
type Fix struct {
	Check   string `json:"check"` // audit check ID (LD-CTR-…)
	Setting string `json:"setting"`
}

// Audit check IDs (internal/audit) that harden addresses.
const (
	CheckPrivileged     = "LD-CTR-301"
	CheckDangerousCaps  = "LD-CTR-302"
	CheckNetRaw         = "LD-CTR-303"
	CheckAppArmor       = "LD-CTR-304"
	CheckSELinux        = "LD-CTR-305"
	CheckSeccomp        = "LD-CTR-306"
	CheckNoNewPrivs     = "LD-CTR-307"
	CheckNonRoot        = "LD-CTR-308"
	CheckReadOnly       = "LD-CTR-309"
	CheckHostNetwork    = "LD-CTR-310"
	CheckHostPID        = "LD-CTR-311"
	CheckHostIPC        = "LD-CTR-312"
	CheckHostUTS        = "LD-CTR-313"
	CheckHostUser       = "LD-CTR-314"
	CheckSensitiveMount = "LD-CTR-315"
	CheckDockerSocket   = "LD-CTR-316"
	CheckPropagation    = "LD-CTR-317"
	CheckDevices        = "LD-CTR-318"
	CheckMemory         = "LD-CTR-319"
	CheckCPU            = "LD-CTR-320"
	CheckPids           = "LD-CTR-321"
	CheckRestart        = "LD-CTR-322"
	CheckHealthcheck    = "LD-CTR-323"
	CheckDefaultBridge  = "LD-CTR-326"
)

// ContainerChecks lists every audit check ID harden may address.
var ContainerChecks = []string{CheckPrivileged, CheckDangerousCaps, CheckNetRaw, CheckAppArmor, CheckSELinux, CheckSeccomp,
	CheckNoNewPrivs, CheckNonRoot, CheckReadOnly, CheckHostNetwork, CheckHostPID, CheckHostIPC, CheckHostUTS, CheckHostUser,
	CheckSensitiveMount, CheckDockerSocket, CheckPropagation, CheckDevices, CheckMemory, CheckCPU, CheckPids, CheckRestart,
	CheckHealthcheck, CheckDefaultBridge}
