package kube

import (
	"testing"
)

// FuzzDecode: an admission review's object of any workload kind decodes
// or fails cleanly, and CheckPod never panics on what decodes.
func FuzzDecode(f *testing.F) {
	f.Add("Pod", []byte(`{"spec":{"containers":[{"name":"a","image":"x","securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}}]}}`))
	f.Add("CronJob", []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostPID":true}}}}}}`))
	f.Add("Deployment", []byte(`{"spec":{"template":{"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io/a":"unconfined"}}}}}`))
	f.Add("ReplicationController", []byte(`{"spec":{}}`))
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		w, ok, err := Decode(kind, raw)
		if err != nil || !ok {
			return
		}
		CheckPod(w.Pod())
	})
}
