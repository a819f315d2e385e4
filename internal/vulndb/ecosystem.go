package vulndb

// DefaultEcosystems is the common set `lockdown db update` fetches when
// told nothing else.
func DefaultEcosystems() []string {
	return []string{"Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Go", "npm", "PyPI", "crates.io", "Maven"}
}
