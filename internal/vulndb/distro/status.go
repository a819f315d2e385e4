package distro

import "github.com/lockdown-sec/lockdown/internal/model"

// VendorStatus is what Lockdown makes of one status word of a vendor's
// tracker: the one mapping every converter here uses, and that the README's
// table documents next to how Trivy and Grype treat the same word.
type VendorStatus struct {
	Vendor, Word string
	// Affected: the package gets an affected entry (a finding); false: no
	// entry (not affected, or nothing to report).
	Affected bool
	// Status is the finding's status when no fixed version is given
	// (model.StatusUnfixed, StatusWillNotFix, …); a fixed version makes it
	// model.StatusFixed.
	Status string
}

// VendorStatuses is the mapping. Severity words that are not severities
// elsewhere (Ubuntu's "negligible" priority, Debian's "unimportant"
// urgency) are not statuses: such a finding is kept, its severity LOW and
// the vendor's word kept as the finding's vendor severity (internal/match).
var VendorStatuses = []VendorStatus{
	// Ubuntu CVE Tracker (release_package: status).
	{"Ubuntu", "released", true, model.StatusFixed}, // with a version; without one: nothing to compare, no entry
	{"Ubuntu", "pending", true, model.StatusUnfixed},
	{"Ubuntu", "needed", true, model.StatusUnfixed},
	{"Ubuntu", "deferred", true, model.StatusFixDeferred},
	{"Ubuntu", "ignored", true, model.StatusWillNotFix},
	{"Ubuntu", "needs-triage", true, model.StatusUnderInvestigation},
	{"Ubuntu", "not-affected", false, ""},
	{"Ubuntu", "DNE", false, ""},
	// Debian security tracker (DSA/DLA/DTSA lists: [release] - package state).
	{"Debian", "<unfixed>", true, model.StatusUnfixed},
	{"Debian", "<no-dsa>", true, model.StatusUnfixed}, // minor: no advisory, may be fixed in a point release
	{"Debian", "<postponed>", true, model.StatusFixDeferred},
	{"Debian", "<ignored>", true, model.StatusWillNotFix},
	{"Debian", "<end-of-life>", true, model.StatusEndOfLife},
	{"Debian", "<not-affected>", false, ""},
	{"Debian", "<removed>", false, ""},
}

// vendorStatus looks word up for vendor; ok is false for a word the table
// does not know.
func vendorStatus(vendor, word string) (VendorStatus, bool) {
	for _, s := range VendorStatuses {
		if s.Vendor == vendor && s.Word == word {
			return s, true
		}
	}
	return VendorStatus{}, false
}

// statusField is the key of an affected entry's database_specific that
// carries a status other than plain affected.
const statusField = "status"
