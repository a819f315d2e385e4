package hugeheap

import "testing"

func TestDisabled(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                            false,
		"disablethp=1":                true,
		"disablethp=0":                false,
		"disablethp=10":               false,
		"madvdontneed=1,disablethp=1": true,
		"disablethp=1,madvdontneed=1": true,
		"disablethp=1,disablethp=0":   false,
		"disablethp=0,disablethp=1":   true,
		"xdisablethp=1":               false,
		"disablethp=1,":               true,
		",,disablethp=1":              true,
	} {
		if got := disabled(godebug); got != want {
			t.Errorf("disabled(%q) = %v, want %v", godebug, got, want)
		}
	}
}
