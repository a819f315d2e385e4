package match

import "github.com/lockdown-sec/lockdown/internal/osv"

// NormalizeEcosystem is osv.NormalizeEcosystem: packages and advisories
// are compared in the form the store indexes them under.
func NormalizeEcosystem(eco string) string { return osv.NormalizeEcosystem(eco) }
