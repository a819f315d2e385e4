package hugeheap

// disabled reports whether GODEBUG turns huge pages off for the heap
// (disablethp=1; the last setting wins, as in the runtime). It imports
// nothing, so that this package stays among the first to initialise.
func disabled(godebug string) bool {
	const key = "disablethp="
	off := false
	for godebug != "" {
		kv := godebug
		godebug = ""
		for i := range len(kv) {
			if kv[i] == ',' {
				kv, godebug = kv[:i], kv[i+1:]
				break
			}
		}
		if len(kv) >= len(key) && kv[:len(key)] == key {
			off = kv[len(key):] == "1"
		}
	}
	return off
}
