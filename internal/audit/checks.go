package audit

// Checks returns every posture check, listed explicitly: daemon, host,
// container and image checks in that order. IDs are stable: a check that
// is removed leaves its ID unused. Adding a check is adding it here (and
// its test).
func Checks() []Check {
	var all []Check
	all = append(all, daemonChecks()...)
	all = append(all, hostChecks()...)
	all = append(all, containerChecks()...)
	all = append(all, imageChecks()...)
	return all
}
