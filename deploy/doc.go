// Package deploy holds Lockdown's deployment files: the container image
// recipe (Dockerfile), Kubernetes manifests, Prometheus scrape config,
// alerting and recording rules with their promtool unit tests, and the
// Grafana dashboard. It has no Go code; its tests prove that every file
// parses with the real tools (promtool, Prometheus, the Kubernetes API
// types, Lockdown's own network policy engine, the Docker engine) and that
// every query uses only the metrics internal/server exports.
package deploy
