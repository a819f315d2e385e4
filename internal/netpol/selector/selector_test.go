package selector

import (
	"errors"
	"strings"
	"testing"
)

func TestMatches(t *testing.T) {
	labels := Labels{"app": "web", "tier": "frontend", "env": "prod-eu", "projectcalico.org/namespace": "shop"}
	tests := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"all()", true},
		{"global()", true},
		{"app == 'web'", true},
		{`app == "db"`, false},
		{"app != 'db'", true},
		{"missing != 'x'", true}, // a missing label is "not equal"
		{"has(tier)", true},
		{"!has(tier)", false},
		{"has(missing)", false},
		{"! has( missing )", true},
		{"app in {'db', 'web'}", true},
		{"app in {}", false},
		{"app not in {'db'}", true},
		{"missing not in {'x'}", true},
		{"missing in {'x'}", false},
		{"env contains 'od-e'", true},
		{"env starts with 'prod'", true},
		{"env ends with 'eu'", true},
		{"env ends with 'us'", false},
		{"missing contains ''", false},
		{"app == 'web' && tier == 'backend'", false},
		{"app == 'web' || tier == 'backend'", true},
		{"app == 'db' || tier == 'backend' || has(env)", true},
		{"!(app == 'web' && has(tier))", false},
		{"!!has(app)", true},
		{"app == 'db' && tier == 'x' || env starts with 'prod'", true}, // && binds tighter
		{"app == 'db' && (tier == 'x' || env starts with 'prod')", false},
		{"projectcalico.org/namespace == 'shop'", true},
		{"app in {'web',}", true},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.sel)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.sel, err)
			continue
		}
		if got := sel.Matches(labels); got != tt.want {
			t.Errorf("Parse(%q).Matches = %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ sel, want string }{
		{"app = 'x'", `invalid selector "app = 'x'": expected '==' at position 5`},
		{"app == x", `invalid selector "app == x": expected a quoted string after '==' but found label "x" at position 8`},
		{"app == 'x", `invalid selector "app == 'x": unterminated string at position 8`},
		{"has(app", `invalid selector "has(app": expected ')' to close has( at position 8`},
		{"has()", `invalid selector "has()": expected a label name in has() at position 5`},
		{"all(x)", `invalid selector "all(x)": expected ')' after all( at position 5`},
		{"app", `invalid selector "app": expected an operator after label "app" but found end of selector at position 4`},
		{"app foo 'x'", `invalid selector "app foo 'x'": expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "app" at position 5`},
		{"app starts 'x'", `invalid selector "app starts 'x'": expected "with" after "starts" at position 12`},
		{"(app == 'x'", `invalid selector "(app == 'x'": expected ')' but found end of selector at position 12`},
		{"app == 'x' &&", `invalid selector "app == 'x' &&": unexpected end of selector at position 14`},
		{"app == 'x' & b", `invalid selector "app == 'x' & b": expected '&&' at position 12`},
		{"app in {'a' 'b'}", `invalid selector "app in {'a' 'b'}": expected '}' or a quoted string but found string "b" at position 13`},
		{"app in 'a'", `invalid selector "app in 'a'": expected '{' after 'in' but found string "a" at position 8`},
		{"a == 'x' b == 'y'", `invalid selector "a == 'x' b == 'y'": unexpected label "b" after end of expression at position 10`},
		{"$x == 'y'", `invalid selector "$x == 'y'": unexpected character '$' at position 1`},
		// Word boundaries after operator words (Calico's tokenizer: in\b,
		// ends\s*with\b, contains\b).
		{"app inx {'a'}", `invalid selector "app inx {'a'}": expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "app" at position 5`},
		{"app ends withx 'a'", `invalid selector "app ends withx 'a'": expected "with" after "ends" at position 10`},
		{"app not inx {'a'}", `invalid selector "app not inx {'a'}": expected "in" after "not" at position 9`},
		{"app containsx 'a'", `invalid selector "app containsx 'a'": expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "app" at position 5`},
		// Label length: a Kubernetes label key (name ≤ 63, prefix ≤ 253).
		{strings.Repeat("a", 64) + " == 'x'", `invalid selector "` + strings.Repeat("a", 64) + ` == 'x'": label "` + strings.Repeat("a", 64) + `": name longer than 63 characters at position 1`},
		{"has(" + strings.Repeat("p", 254) + "/n)", `invalid selector "has(` + strings.Repeat("p", 254) + `/n)": label "` + strings.Repeat("p", 254) + `/n": prefix longer than 253 characters at position 5`},
	}
	// The limits themselves and operators followed by a non-word character
	// are fine.
	for _, ok := range []string{strings.Repeat("a", 63) + " == 'x'", "example.com/" + strings.Repeat("n", 63) + " in {'a'}",
		"app in{'a'}", "app ends with'x'", "app contains'x'", "app not in{'a'}"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q) = %v, want accepted", ok, err)
		}
	}
	for _, tt := range tests {
		_, err := Parse(tt.sel)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want *Error", tt.sel, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error =\n  %s\nwant\n  %s", tt.sel, err, tt.want)
		}
	}
}

func TestCanonicalString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "all()"},
		{"app=='x'", `app == "x"`},
		{`a == 'say "hi"'`, `a == 'say "hi"'`},
		{"b in {'z','a','a'}", `b in {"a", "z"}`},
		{"(a == 'x') && ((b == 'y'))", `a == "x" && b == "y"`},
		{"a == 'x' && (b == 'y' || c == 'z')", `a == "x" && (b == "y" || c == "z")`},
		{"!!has(a)", "has(a)"},
		{"!(a == 'x')", `!(a == "x")`},
		{"!(a == 'x' || has(b))", `!(a == "x" || has(b))`},
	}
	for _, tt := range tests {
		got := MustParse(tt.in).String()
		if got != tt.want {
			t.Errorf("Parse(%q).String() = %s, want %s", tt.in, got, tt.want)
		}
		if again := MustParse(got).String(); again != got {
			t.Errorf("String of reparsed %q = %s, want it unchanged", got, again)
		}
	}
}

func TestRewrites(t *testing.T) {
	ns := Has("projectcalico.org/namespace")
	notNS := Not(ns)
	got := MustParse("env == 'dev' || all() || global()").WithPrefix("pcns.").Replace(ns, notNS).String()
	want := `pcns.env == "dev" || has(projectcalico.org/namespace) || !has(projectcalico.org/namespace)`
	if got != want {
		t.Errorf("prefix+replace = %s, want %s", got, want)
	}
	if got := And(MustParse("a == 'x'"), nil, All(), MustParse("b == 'y' && c == 'z'")).String(); got != `a == "x" && b == "y" && c == "z"` {
		t.Errorf("And = %s", got)
	}
	if got := MustParse("c == 'z' && a == 'x' && all()").Conjuncts(); len(got) != 2 || got[0] != `a == "x"` || got[1] != `c == "z"` {
		t.Errorf("Conjuncts = %q", got)
	}
	if got := MustParse("has(b) || a in {'x'} && !has(c)").LabelKeys(); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Errorf("LabelKeys = %q", got)
	}
	idx := map[[2]string][]int{{"a", "x"}: {1, 2, 3}, {"b", "y"}: {1}}
	if k, v, ok := MustParse("a == 'x' && b == 'y'").RequiredEq(idx); !ok || k != "b" || v != "y" {
		t.Errorf("RequiredEq = %s %s %v, want b y (the rarer)", k, v, ok)
	}
	if _, _, ok := MustParse("a == 'x' || b == 'y'").RequiredEq(idx); ok {
		t.Errorf("RequiredEq of an || = ok, want none")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "all()", "a == 'b'", "a in {'x', 'y'} && !has(b)", "(a != \"c\" || global()) && d starts with 'e'",
		"x not in {} || y ends with '' && z contains 'q'", "!!!(((a == 'b')))", "has(", "a ==", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q) error %v: want *Error with a position in the input", s, err)
			}
			return
		}
		// The canonical form parses back to itself and matches alike.
		c := sel.String()
		again, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(String(Parse(%q))) = %v (canonical %q)", s, err, c)
		}
		if again.String() != c {
			t.Fatalf("canonical form not stable: %q -> %q", c, again.String())
		}
		for _, l := range []Labels{{}, {"a": "b"}, {"a": "x", "b": "", "x": "y"}} {
			if sel.Matches(l) != again.Matches(l) {
				t.Fatalf("Parse(%q) and its canonical form %q disagree on %v", s, c, l)
			}
		}
	})
}

func BenchmarkMatches(b *testing.B) {
	sel := MustParse("projectcalico.org/namespace == 'shop' && (app in {'web', 'api'} || has(role)) && env != 'dev'")
	labels := Labels{"app": "api", "env": "prod", "projectcalico.org/namespace": "shop", "pcns.team": "a"}
	b.ReportAllocs()
	for b.Loop() {
		sel.Matches(labels)
	}
}
