#!/usr/bin/env bash
# Enforcement costs, as ratios where they depend on the machine:
#   BenchmarkCompileApply: compile 1,000 endpoints × 500 policies and apply
#     them in one transaction (wall and CPU ms; the ruleset's size);
#   BenchmarkSwap: a policy change under the same 1,000 × 500 (two policy
#     sets over the same endpoints, applied in turn: the hitless update in
#     place; wall and CPU ms);
#   BenchmarkPacketCost: TCP connect latency and throughput between two
#     network namespaces with the 500 policies applied, next to no ruleset
#     and to connection tracking alone (three hosts side by side, taking
#     turns connect by connect); walk=1 and walk=20 policies on the SYN's
#     path; the medians of the ratios;
#   BenchmarkPacketCostDocker: the same between two containers on a Docker
#     network, against Docker's own rules alone (Lockdown's table applied
#     and removed in turn).
# Needs root (network namespaces, nftables) and a Docker engine.
#
# Usage: bench/netpol-enforce.sh [ITERATIONS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
go test ./internal/netpol/enforce -run '^$' -bench 'BenchmarkCompileApply$|BenchmarkCompile$|BenchmarkSwap$' -benchtime "${n}x" -benchmem
go test ./internal/netpol/enforce -run '^$' -bench 'BenchmarkPacketCost' -benchtime "${n}x"
