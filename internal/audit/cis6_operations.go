package audit

// CIS section 6: security operations — image and container sprawl. With a
// container filter (--container) both count only the selected containers
// and their images.

import (
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

var imageSprawlInfo = Info{ID: "LD-OPS-601", CIS: "6.1", Title: "No unused images pile up", Severity: model.SeverityLow,
	Tags:        []string{"cis", "sprawl", "images"},
	Rationale:   "Images no container uses still carry their vulnerabilities, are still started by mistake, and fill the disk.",
	Remediation: "remove images no container uses: docker image prune -a (after checking the list)"}

// imageSprawl: 6.1.
func imageSprawl(t *Target) Result {
	f := t.Fleet
	if n := len(f.UnusedImages); n > 0 {
		return warn("%d of %d images are used by no container: %s", n, f.Images, sample(f.UnusedImages, 10))
	}
	return pass("every one of the %d images is used by a container", f.Images)
}

var containerSprawlInfo = Info{ID: "LD-OPS-602", CIS: "6.2", Title: "No stopped containers pile up", Severity: model.SeverityLow,
	Tags:        []string{"cis", "sprawl"},
	Rationale:   "Stopped containers keep their writable layer, volumes and configuration (secrets in the environment included) and are one docker start away from running again.",
	Remediation: "remove stopped containers that are not needed: docker container prune (after checking the list)"}

// containerSprawl: 6.2.
func containerSprawl(t *Target) Result {
	f := t.Fleet
	if n := len(f.Stopped); n > 0 {
		return warn("%d stopped and %d running containers; stopped: %s", n, len(f.Running), sample(f.Stopped, 10))
	}
	return pass("%d running containers and no stopped ones", len(f.Running))
}

// sample lists up to n items, then how many more.
func sample(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + ", and " + strconv.Itoa(len(s)-n) + " more"
}
