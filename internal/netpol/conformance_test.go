package netpol

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

type flowCase struct {
	from, to, port string
	allow          bool
}

// allow / deny build flow expectations: "prod/web -> prod/db 5432/TCP".
func allow(s string) flowCase { return parseFlowCase(s, true) }
func deny(s string) flowCase  { return parseFlowCase(s, false) }

func parseFlowCase(s string, a bool) flowCase {
	f := strings.Fields(s)
	if len(f) != 4 || f[1] != "->" {
		panic("bad flow case " + s)
	}
	return flowCase{from: f[0], to: f[2], port: f[3], allow: a}
}

type scenario struct {
	name  string
	yaml  string
	flows []flowCase
}

// conformance lists scenarios with verdicts derived by hand from Calico's
// and Kubernetes' documented semantics. The world is testdata/conformance/base.yaml:
// prod/web 10.0.1.1 (http 8080, sa web), prod/api 10.0.1.2 (http 80, grpc
// 9090, dns 53/UDP, sa api), prod/db 10.0.1.3 (pg 5432, sa db labelled
// tier=gold), dev/web 10.0.2.1, dev/tool 10.0.2.2, ops/prom 10.0.3.1;
// namespaces prod (env=prod, team=a), dev (env=dev, team=b), ops (env=ops).
var conformance = []scenario{
	// ---- Kubernetes NetworkPolicy
	{"no policies allow everything", ``, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), allow("203.0.113.5 -> prod/web 8080/TCP")}},
	{"k8s deny-all ingress (policyTypes defaulted)", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: prod}
spec: {podSelector: {}}`, []flowCase{
		deny("dev/tool -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP"), allow("prod/db -> dev/tool 80/TCP")}},
	{"k8s deny-all egress", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: prod}
spec: {podSelector: {}, policyTypes: [Egress]}`, []flowCase{
		deny("prod/web -> dev/web 8080/TCP"), allow("dev/tool -> prod/db 5432/TCP")}},
	{"k8s allow same namespace", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-ns, namespace: prod}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("dev/web -> prod/db 5432/TCP")}},
	{"k8s other namespace by label", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-team-b, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), deny("ops/prom -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"k8s namespaceSelector AND podSelector in one peer", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {env: dev}}
      podSelector: {matchLabels: {app: web}}`, []flowCase{
		allow("dev/web -> prod/db 5432/TCP"), deny("dev/tool -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"k8s namespaceSelector OR podSelector in two peers", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {env: dev}}
    - podSelector: {matchLabels: {app: web}}`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), allow("prod/web -> prod/db 5432/TCP"), deny("ops/prom -> prod/db 5432/TCP")}},
	{"k8s ipBlock with except", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ipblock, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.0/24]}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("dev/web -> prod/db 5432/TCP"), allow("ops/prom -> prod/db 5432/TCP"),
		deny("203.0.113.5 -> prod/db 5432/TCP")}},
	{"k8s named port resolves on the destination pod", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {}}], ports: [{port: http}]}]`, []flowCase{
		allow("prod/web -> prod/api 80/TCP"), deny("prod/web -> prod/api 8080/TCP"), deny("prod/web -> prod/api 9090/TCP")}},
	{"k8s named UDP port", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named-udp, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{ports: [{port: dns, protocol: UDP}]}]`, []flowCase{
		allow("prod/web -> prod/api 53/UDP"), deny("prod/web -> prod/api 53/TCP")}},
	{"k8s endPort range", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{ports: [{protocol: TCP, port: 8000, endPort: 9100}]}]`, []flowCase{
		allow("prod/web -> prod/api 9090/TCP"), allow("prod/web -> prod/api 9100/TCP"), deny("prod/web -> prod/api 80/TCP")}},
	{"k8s egress rules without policyTypes also isolate ingress", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: 5432}]}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/web -> prod/api 80/TCP"), deny("dev/tool -> prod/web 8080/TCP")}},
	{"k8s egress-only policy to a namespace", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-ops, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {env: ops}}}]}]`, []flowCase{
		allow("prod/web -> ops/prom 9090/TCP"), deny("prod/web -> dev/web 8080/TCP"), allow("dev/tool -> prod/web 8080/TCP")}},
	{"k8s protocol without port", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-only, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{ports: [{protocol: UDP}]}]`, []flowCase{
		allow("prod/web -> prod/api 53/UDP"), deny("prod/web -> prod/api 80/TCP")}},
	{"k8s empty ingress rule allows all sources", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), allow("203.0.113.5 -> prod/db 5432/TCP")}},
	{"k8s egress ipBlock blocks the internet", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: internal-only, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]`, []flowCase{
		deny("prod/web -> 203.0.113.5 443/TCP"), allow("prod/web -> dev/web 8080/TCP")}},
	{"k8s empty namespaceSelector selects pods of every namespace", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-ns, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {}}]}]`, []flowCase{
		allow("ops/prom -> prod/db 5432/TCP"), deny("203.0.113.5 -> prod/db 5432/TCP")}},
	{"k8s policy in another namespace does not apply", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: dev}
spec: {podSelector: {}}`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/web -> dev/web 8080/TCP")}},
	{"k8s matchExpressions NotIn", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: not-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}}]`, []flowCase{
		allow("prod/api -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},

	// ---- Calico policies
	{"calico rule selector and destination port", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: app == 'api'}
    destination: {ports: [5432]}`, []flowCase{
		allow("prod/api -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP"), deny("prod/api -> prod/db 5433/TCP"),
		allow("prod/db -> dev/tool 80/TCP")}},
	{"calico types default to Egress when only egress rules", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-out, namespace: prod}
spec:
  selector: app == 'web'
  egress:
  - action: Allow
    destination: {selector: app == 'db'}`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/web -> prod/api 80/TCP"), allow("dev/tool -> prod/web 8080/TCP")}},
	{"calico first matching rule wins", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress:
  - {action: Deny, source: {selector: app == 'web'}}
  - action: Allow`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP")}},
	{"calico lower order runs first", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p1, namespace: prod}
spec:
  order: 200
  selector: app == 'db'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p2, namespace: prod}
spec:
  order: 100
  selector: app == 'db'
  ingress: [{action: Deny, source: {selector: app == 'api'}}]`, []flowCase{
		deny("prod/api -> prod/db 5432/TCP"), allow("prod/web -> prod/db 5432/TCP")}},
	{"calico order ties broken by name", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: b-allow, namespace: prod}
spec:
  order: 100
  selector: app == 'db'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-deny, namespace: prod}
spec:
  order: 100
  selector: app == 'db'
  ingress: [{action: Deny}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP")}},
	{"calico unset order runs last", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-unordered-deny, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: z-api, namespace: prod}
spec:
  order: 500
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'api'}}]`, []flowCase{
		allow("prod/api -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico GlobalNetworkPolicy applies in every namespace", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-8080}
spec:
  selector: app == 'web'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]`, []flowCase{
		allow("dev/tool -> dev/web 8080/TCP"), allow("dev/tool -> prod/web 8080/TCP"), deny("dev/tool -> prod/web 9999/TCP")}},
	{"calico namespaced rule selector sees only its namespace", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'web'}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("dev/web -> prod/db 5432/TCP")}},
	{"calico global rule selector sees every namespace", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'web'}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), allow("dev/web -> prod/db 5432/TCP"), deny("dev/tool -> prod/db 5432/TCP")}},
	{"calico rule namespaceSelector", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {namespaceSelector: env == 'dev'}}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico namespaceSelector all() selects namespaced endpoints only", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {namespaceSelector: all()}}]`, []flowCase{
		allow("ops/prom -> prod/db 5432/TCP"), deny("203.0.113.5 -> prod/db 5432/TCP")}},
	{"calico notSelector stays in the policy's namespace", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {notSelector: app == 'web'}}]`, []flowCase{
		allow("prod/api -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP"), deny("dev/tool -> prod/db 5432/TCP")}},
	{"calico source nets", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {nets: [10.0.2.0/24]}}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico source notNets", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {notNets: [10.0.2.0/24]}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("dev/tool -> prod/db 5432/TCP"), allow("203.0.113.5 -> prod/db 5432/TCP")}},
	{"calico port range", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: prod}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: ['8000:9100']}}]`, []flowCase{
		allow("prod/web -> prod/api 9090/TCP"), deny("prod/web -> prod/api 80/TCP")}},
	{"calico notPorts", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: prod}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, protocol: TCP, destination: {notPorts: [9090]}}]`, []flowCase{
		allow("prod/web -> prod/api 80/TCP"), deny("prod/web -> prod/api 9090/TCP"), deny("prod/web -> prod/api 53/UDP")}},
	{"calico notProtocol", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: prod}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, notProtocol: UDP}]`, []flowCase{
		allow("prod/web -> prod/api 80/TCP"), deny("prod/web -> prod/api 53/UDP")}},
	{"calico protocol by number", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: prod}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, protocol: 17}]`, []flowCase{
		allow("prod/web -> prod/api 53/UDP"), deny("prod/web -> prod/api 80/TCP")}},
	{"calico ICMP type", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: prod}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, protocol: ICMP, icmp: {type: 8}}]`, []flowCase{
		allow("prod/web -> prod/api ICMP:8:0"), deny("prod/web -> prod/api ICMP:0:0")}},
	{"calico Log then Deny", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress:
  - action: Log
  - {action: Deny, source: {selector: app == 'web'}}
  - action: Allow`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP")}},
	{"calico Log alone ends in the end-of-tier deny", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Log}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP")}},
	{"calico Pass to the next tier", `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sec.db}
spec:
  tier: sec
  selector: app == 'db'
  ingress: [{action: Pass, source: {selector: app == 'web'}}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/api -> prod/db 5432/TCP")}},
	{"calico tier defaultAction Pass", `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sec.db}
spec:
  tier: sec
  selector: app == 'db'
  ingress: [{action: Deny, source: {selector: app == 'api'}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/api -> prod/db 5432/TCP")}},
	{"calico end-of-tier deny stops later tiers", `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sec.db}
spec:
  tier: sec
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'api'}}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP")}},
	{"calico tiers run by order, not name", `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: t1}
spec: {order: 200}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: t2}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: t1.allow}
spec:
  tier: t1
  selector: app == 'db'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: t2.deny-web}
spec:
  tier: t2
  selector: app == 'db'
  ingress:
  - {action: Deny, source: {selector: app == 'web'}}
  - action: Pass`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP")}},
	{"calico a tier takes part only when it selects the endpoint", `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sec.api}
spec:
  tier: sec
  selector: app == 'api'
  ingress: [{action: Allow, source: {selector: app == 'web'}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/db -> prod/api 80/TCP")}},
	{"calico Pass from the last tier goes to the profiles", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Pass}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP")}},
	{"calico NetworkSet membership by labels", `
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners, namespace: prod, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: role == 'partner'}}]`, []flowCase{
		allow("203.0.113.5 -> prod/db 5432/TCP"), deny("198.51.100.7 -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico namespaced rule does not see a GlobalNetworkSet", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: role == 'partner'}}]`, []flowCase{
		deny("203.0.113.5 -> prod/db 5432/TCP")}},
	{"calico namespaceSelector global() selects a GlobalNetworkSet", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: role == 'partner', namespaceSelector: global()}}]`, []flowCase{
		allow("203.0.113.5 -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico global rule selector matches a GlobalNetworkSet", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: role == 'partner'}}]`, []flowCase{
		allow("203.0.113.5 -> prod/db 5432/TCP")}},
	{"calico egress to a NetworkSet", `
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners, namespace: prod, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
  egress: [{action: Allow, destination: {selector: role == 'partner'}}]`, []flowCase{
		allow("prod/web -> 203.0.113.5 443/TCP"), deny("prod/web -> 198.51.100.7 443/TCP")}},
	{"calico a NetworkSet selects endpoints whose IP it contains", `
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: dev-range, namespace: prod, labels: {role: trusted}}
spec: {nets: [10.0.2.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: role == 'trusted'}}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), deny("ops/prom -> prod/db 5432/TCP")}},
	{"calico serviceAccounts names", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {serviceAccounts: {names: [api]}}}]`, []flowCase{
		allow("prod/api -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico serviceAccounts selector", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: api}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, source: {serviceAccounts: {selector: tier == 'gold'}}}]`, []flowCase{
		allow("prod/db -> prod/api 80/TCP"), deny("prod/web -> prod/api 80/TCP")}},
	{"calico policy serviceAccountSelector", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: gold, namespace: prod}
spec:
  serviceAccountSelector: tier == 'gold'
  ingress: [{action: Deny}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/web -> prod/api 80/TCP")}},
	{"calico StagedNetworkPolicy is not enforced", `
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: deny-db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Deny}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP")}},
	{"calico StagedGlobalNetworkPolicy is not enforced", `
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: deny-all}
spec:
  selector: all()
  ingress: [{action: Deny}]
  egress: [{action: Deny}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP")}},
	{"calico automatic namespace label", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: projectcalico.org/namespace == 'ops'}}]`, []flowCase{
		allow("ops/prom -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
	{"calico projectcalico.org/name in a namespaceSelector", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {namespaceSelector: projectcalico.org/name == 'dev'}}]`, []flowCase{
		allow("dev/tool -> prod/db 5432/TCP"), deny("ops/prom -> prod/db 5432/TCP")}},
	{"calico NetworkPolicy order 500 runs before a Kubernetes policy (1000)", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: no-web, namespace: prod}
spec:
  order: 500
  selector: app == 'db'
  ingress: [{action: Deny, source: {selector: app == 'web'}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-pods, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {}}]}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP")}},
	{"a Kubernetes policy that does not match falls through to later policies", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-only, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: late-allow, namespace: prod}
spec:
  order: 2000
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'web'}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("dev/tool -> prod/db 5432/TCP")}},
	{"calico host endpoint denies by default", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.10]}`, []flowCase{
		deny("prod/web -> node1-eth0 22/TCP"), deny("node1-eth0 -> prod/web 8080/TCP")}},
	{"calico host endpoint with the default-allow profile", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.10], profiles: [projectcalico-default-allow]}`, []flowCase{
		allow("prod/web -> node1-eth0 22/TCP")}},
	{"calico GlobalNetworkPolicy on a host endpoint", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.10], profiles: [projectcalico-default-allow]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ssh}
spec:
  selector: role == 'node'
  ingress: [{action: Allow, protocol: TCP, source: {nets: [10.0.1.0/24]}, destination: {ports: [22]}}]`, []flowCase{
		allow("prod/web -> node1-eth0 22/TCP"), deny("dev/tool -> node1-eth0 22/TCP")}},
	{"calico user profile on a host endpoint", `
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: ssh-only}
spec:
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [22]}}]
  egress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.10], profiles: [ssh-only]}`, []flowCase{
		allow("prod/web -> node1-eth0 22/TCP"), deny("prod/web -> node1-eth0 80/TCP")}},
	{"calico ipVersion 6 rule does not match IPv4", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, ipVersion: 6}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP")}},
	{"both egress and ingress must allow", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-no-egress, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-open, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP")}},
	{"calico destination named port in an egress rule", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {ports: [pg]}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/web -> prod/api 80/TCP"), deny("prod/web -> 203.0.113.5 5432/TCP")}},
	{"calico GlobalNetworkPolicy namespaceSelector", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: dev-closed}
spec:
  namespaceSelector: env == 'dev'
  ingress: [{action: Deny}]`, []flowCase{
		deny("prod/web -> dev/web 8080/TCP"), allow("dev/web -> prod/db 5432/TCP")}},
	{"calico policy in a missing tier is evaluated last", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: nope.deny}
spec:
  tier: nope
  selector: app == 'db'
  ingress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP")}},
	{"calico global Deny by order beats a namespaced Allow", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-dev}
spec:
  order: 10
  selector: all()
  ingress: [{action: Deny, source: {nets: [10.0.2.0/24]}}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  order: 100
  selector: app == 'db'
  ingress: [{action: Allow}]`, []flowCase{
		deny("dev/tool -> prod/db 5432/TCP"), allow("prod/web -> prod/db 5432/TCP")}},
	{"calico selector operators: in, not in, contains, starts with, ends with, !has", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ops}
spec:
  selector: app == 'db'
  ingress:
  - {action: Deny, source: {selector: "app in {'tool'}"}}
  - {action: Allow, source: {selector: "app contains 'rom' && app starts with 'pro' && app ends with 'eus'"}}
  - {action: Allow, source: {selector: "app not in {'web', 'tool'} && !has(role)"}}`, []flowCase{
		deny("dev/tool -> prod/db 5432/TCP"), allow("ops/prom -> prod/db 5432/TCP"), allow("prod/api -> prod/db 5432/TCP"),
		deny("prod/web -> prod/db 5432/TCP")}},
	// ---- Kubernetes Services as rule peers (Calico's services match)
	{"calico services destination: the Service's endpoints on its target ports", `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: prod}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: http}, {port: 5353, protocol: UDP, targetPort: 53}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-out, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
  egress: [{action: Allow, destination: {services: {name: api}}}]`, []flowCase{
		allow("prod/web -> prod/api 80/TCP"), allow("prod/web -> prod/api 53/UDP"),
		deny("prod/web -> prod/api 9090/TCP"), deny("prod/web -> prod/api 5353/UDP"),
		deny("prod/web -> prod/db 5432/TCP"), deny("prod/web -> 10.0.1.2 80/UDP")}},
	{"calico services source: only the Service's endpoints, in its namespace", `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {services: {name: web}}, destination: {ports: [5432]}}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP"), deny("prod/api -> prod/db 5432/TCP"),
		deny("dev/web -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5433/TCP")}},
	{"calico services of another namespace from a global policy", `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: dev}
spec:
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: to-dev-web}
spec:
  selector: app == 'tool'
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {services: {name: web, namespace: dev}}}]`, []flowCase{
		allow("dev/tool -> dev/web 8080/TCP"), deny("dev/tool -> prod/web 8080/TCP"), deny("dev/tool -> dev/web 80/TCP")}},
	{"calico services that are not among the inputs match nothing", `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {services: {name: ghost}}}]`, []flowCase{
		deny("prod/web -> prod/db 5432/TCP")}},
	// ---- doNotTrack (untracked) and preDNAT policies: host endpoints only
	{"calico untracked allow skips the normal policies", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: host}}
spec: {interfaceName: eth0, expectedIPs: [10.0.9.1], profiles: [projectcalico-default-allow]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-deny}
spec:
  selector: role == 'host'
  ingress: [{action: Deny}]
  egress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-ssh}
spec:
  selector: role == 'host'
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [22]}}]
  egress: [{action: Allow, protocol: TCP, source: {ports: [22]}}, {action: Deny, protocol: TCP, destination: {ports: [5432]}}]`, []flowCase{
		allow("prod/web -> h1 22/TCP"), deny("prod/web -> h1 80/TCP"),
		deny("h1 -> prod/db 5432/TCP"), deny("h1 -> prod/web 8080/TCP")}},
	{"calico untracked deny beats a normal allow", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: host}}
spec: {interfaceName: eth0, expectedIPs: [10.0.9.1], profiles: [projectcalico-default-allow]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-telnet}
spec:
  selector: role == 'host'
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [23]}}]`, []flowCase{
		deny("prod/web -> h1 23/TCP"), allow("prod/web -> h1 80/TCP"), allow("h1 -> prod/web 23/TCP")}},
	{"calico untracked policies select host endpoints only", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-db}
spec:
  selector: app == 'db'
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Deny}]`, []flowCase{
		allow("prod/web -> prod/db 5432/TCP")}},
	{"calico untracked tiers: Pass and no end-of-tier deny", `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: first}
spec: {order: 10}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: host}}
spec: {interfaceName: eth0, expectedIPs: [10.0.9.1]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.pass}
spec:
  tier: first
  selector: role == 'host'
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Pass, protocol: TCP, destination: {ports: [80]}}, {action: Deny, protocol: TCP}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-web}
spec:
  selector: role == 'host'
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]`, []flowCase{
		allow("prod/web -> h1 80/TCP"), deny("prod/web -> h1 443/TCP"), deny("prod/web -> h1 53/UDP")}},
	{"calico preDNAT deny and allow before the normal policies", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: host}}
spec: {interfaceName: eth0, expectedIPs: [10.0.9.1]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-web}
spec:
  selector: role == 'host'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
  egress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: edge}
spec:
  selector: role == 'host'
  preDNAT: true
  applyOnForward: true
  ingress:
  - {action: Deny, source: {nets: [10.0.2.0/24]}}
  - {action: Allow, protocol: TCP, destination: {ports: [443]}}`, []flowCase{
		deny("dev/tool -> h1 80/TCP"), allow("prod/web -> h1 443/TCP"), allow("prod/web -> h1 80/TCP"),
		deny("prod/web -> h1 8080/TCP"), allow("h1 -> dev/tool 80/TCP")}},
	{"calico preDNAT allow does not skip the source's egress", `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: host}}
spec: {interfaceName: eth0, expectedIPs: [10.0.9.1]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-no-egress, namespace: prod}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: edge}
spec:
  selector: role == 'host'
  preDNAT: true
  applyOnForward: true
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [443]}}]`, []flowCase{
		deny("prod/web -> h1 443/TCP"), allow("prod/api -> h1 443/TCP"), deny("prod/api -> h1 80/TCP")}},
	{"calico != matches a missing label", `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: role != 'frontend'}}]`, []flowCase{
		allow("prod/api -> prod/db 5432/TCP"), deny("prod/web -> prod/db 5432/TCP")}},
}

func loadScenario(t *testing.T, sc scenario) *Config {
	t.Helper()
	ctx := context.Background()
	base, err := load.Load(ctx, []string{filepath.Join("testdata", "conformance", "base.yaml")}, nil, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := base.Objects
	if strings.TrimSpace(sc.yaml) != "" {
		more, _, err := load.Parse("scenario.yaml", []byte(sc.yaml), load.Options{})
		if err != nil {
			t.Fatalf("parse scenario: %v", err)
		}
		objs = append(objs, more...)
	}
	cfg, err := Build(objs, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return cfg
}

func resolve(t *testing.T, cfg *Config, ref string) Peer {
	t.Helper()
	e, err := cfg.Endpoint(ref)
	if err != nil {
		t.Fatalf("endpoint %q: %v", ref, err)
	}
	if e != nil {
		return EndpointPeer(e, 4)
	}
	return Peer{IP: mustAddr(t, ref)}
}

func TestConformance(t *testing.T) {
	n := 0
	for _, sc := range conformance {
		n += len(sc.flows)
	}
	if len(conformance) < 60 {
		t.Errorf("conformance has %d scenarios, want at least 60", len(conformance))
	}
	t.Logf("%d scenarios, %d flows", len(conformance), n)
	for _, sc := range conformance {
		t.Run(sc.name, func(t *testing.T) {
			cfg := loadScenario(t, sc)
			for _, fc := range sc.flows {
				pp, err := ParsePortProto(fc.port)
				if err != nil {
					t.Fatal(err)
				}
				src, dst := resolve(t, cfg, fc.from), resolve(t, cfg, fc.to)
				v := cfg.Evaluate(pp.Flow(src, dst, 4))
				if v.Allowed != fc.allow {
					var b bytes.Buffer
					for _, d := range []DirVerdict{v.Egress, v.Ingress} {
						for _, s := range d.Steps {
							fmt.Fprintf(&b, "\n  %s %+v", d.Direction, s)
						}
					}
					t.Errorf("Evaluate(%s -> %s %s) allowed = %v, want %v%s", fc.from, fc.to, fc.port, v.Allowed, fc.allow, b.String())
				}
				// The compiled engine must agree on endpoint pairs.
				if src.Endpoint != nil && dst.Endpoint != nil {
					eng := Compile(cfg, []PortProto{pp}, 4)
					si, di := indexOf(cfg, src.Endpoint), indexOf(cfg, dst.Endpoint)
					if got := eng.Allowed(si, di, 0); got != fc.allow {
						t.Errorf("Engine(%s -> %s %s) = %v, want %v", fc.from, fc.to, fc.port, got, fc.allow)
					}
				}
			}
		})
	}
}

func indexOf(cfg *Config, e *Endpoint) int {
	for i, x := range cfg.Endpoints {
		if x == e {
			return i
		}
	}
	return -1
}
