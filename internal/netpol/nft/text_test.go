package nft

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// TestComment: a policy name with a line break, an escape sequence or a
// double quote can neither break the nft text nor reach a terminal raw
// (nft list, netpol status, the kernel log); long names are cut between
// characters within the kernel's 127 bytes.
func TestComment(t *testing.T) {
	for in, want := range map[string]string{
		"policy=shop/web dir=ingress rule=0 action=Allow": "policy=shop/web dir=ingress rule=0 action=Allow",
		"policy=shop/evil\"\n}\ntable inet x {\x1b[2J":    `policy=shop/evil' } table inet x {\x1b[2J`,
		"rtl\u202e\u009b":        `rtl\u202e\u009b`,
		strings.Repeat("é", 100): strings.Repeat("é", 63),
	} {
		got := Comment(in)
		if got != want {
			t.Errorf("Comment(%q) = %q, want %q", in, got, want)
		}
		if len(got) > 127 || !utf8.ValidString(got) || !termsafe.Safe(got) || strings.Contains(got, `"`) {
			t.Errorf("Comment(%q) = %q: over 127 bytes, invalid UTF-8, a control character or a double quote", in, got)
		}
	}
}

func FuzzComment(f *testing.F) {
	f.Add("policy=shop/evil\"\n}\x1b[2J")
	f.Add(strings.Repeat("é", 100))
	f.Fuzz(func(t *testing.T, s string) {
		got := Comment(s)
		if len(got) > 127 || !utf8.ValidString(got) || !termsafe.Safe(got) || strings.Contains(got, `"`) {
			t.Errorf("Comment(%q) = %q: over 127 bytes, invalid UTF-8, a control character or a double quote", s, got)
		}
		if Comment(got) != got {
			t.Errorf("Comment(Comment(%q)) = %q, want %q", s, Comment(got), got)
		}
	})
}
