package load

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
	f.Add("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  selector: all()\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80, '1:2', http]}}]\n")
	f.Add("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}, status: {podIP: 10.0.0.1}}\n")
	f.Add("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"n\"},\"spec\":{\"podSelector\":{}}}")
	f.Add("a: &x [*x]\n")
	f.Add("apiVersion: v1\nkind: Foo\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v2, kind: Pod}\n- {apiVersion: v1, kind: Namespace, metadata: {name: n}}\n---\nkind: [\n")
	f.Fuzz(func(t *testing.T, text string) {
		objs, _, err := Parse("f.yaml", []byte(text), Options{})
		if err != nil {
			var list *Errors
			if !errors.As(err, &list) || list.Len() == 0 || len(list.Errs) > MaxErrors {
				t.Fatalf("Parse error %q: want an *Errors of 1 to %d", err, MaxErrors)
			}
			for _, e := range list.Errs {
				var le *Error
				if !errors.As(e, &le) || !strings.HasPrefix(e.Error(), "f.yaml") {
					t.Fatalf("Parse error %q: want a *Error naming f.yaml", e)
				}
			}
		}
		// The documents that decoded are returned even next to errors.
		for _, o := range objs {
			if o.Name == "" || o.Obj == nil {
				t.Fatalf("object %+v without a name or value", o)
			}
			_ = o.At("spec", "ingress", 0, "source")
		}
	})
}
