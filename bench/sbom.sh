#!/usr/bin/env bash
# Wall time and peak RSS of `lockdown sbom` on the images the tests build
# (the Debian minbase image in every local form, the Alpine images in
# ../shared/data), each next to a baseline measured in the same run:
#   images: decompressing the image's layer blob(s) once with gzip -dc (the
#           floor for anything that reads every layer);
#   dir:    find walking the same tree (the floor for a full walk).
# Ratios, not absolute times, are what to compare across machines.
#
# Usage: bench/sbom.sh [RUNS]   (default 5; run the tests once first so the
# images exist: go test ./internal/image -run TestDebian)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bin=$(mktemp -d)/lockdown
go build -o "$bin" ./cmd/lockdown
cache=${XDG_CACHE_HOME:-$HOME/.cache}/lockdown-test
img=$(ls -d "$cache"/images/debian-*/ 2>/dev/null | head -1)
rootfs=$cache/debian/bookworm-minbase
data=${LOCKDOWN_TESTDATA:-../shared/data}
export LOCKDOWN_CACHE_DIR=$(mktemp -d)

# best-of-N wall seconds and max RSS (KB) of a command
measure() {
  local best= rss=0
  for _ in $(seq "$runs"); do
    local out tf
    tf=$(mktemp)
    /usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>&1 || true
    out=$(tail -1 "$tf"); rm -f "$tf"
    local t=${out% *} m=${out#* }
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss"
}

printf '%-34s %9s %9s %11s %9s\n' target lockdown baseline ratio peakRSS
row() {
  local name=$1 base=$2; shift 2
  read -r t m < <(measure "$bin" sbom --no-cache --quiet "$@")
  read -r bt _ < <(measure bash -c "$base")
  printf '%-34s %8ss %8ss %10sx %7sMB\n' "$name" "$t" "$bt" "$(awk "BEGIN{printf \"%.2f\", $t/($bt>0.001?$bt:0.001)}")" "$((m/1024))"
}
if [ -d "$rootfs" ]; then
  row "debian dir:" "find $rootfs -xdev >/dev/null" "dir:$rootfs"
fi
if [ -n "$img" ]; then
  blob=$(ls -S "$img"/oci/blobs/sha256/* | head -1)   # the compressed layer
  floor="gzip -dc < $blob >/dev/null"
  row "debian docker-archive:" "$floor" "docker-archive:$img/docker-archive.tar"
  row "debian oci-archive:" "$floor" "oci-archive:$img/oci-archive.tar"
  row "debian oci-dir:" "$floor" "oci-dir:$img/oci"
fi
for a in "$data"/images/alpine-3.1*-docker-save.tar.gz; do
  row "$(basename "$a" .tar.gz)" "gzip -dc $a | tar -xO >/dev/null" "docker-archive:$a"
done
# Memory as the image grows: the Debian image plus the Go toolchain (~270 MB,
# hundreds of executables, many of them Go binaries) as a second layer, built
# with the local Docker engine when there is one. Peak RSS should stay flat.
if [ -n "$img" ] && docker image inspect lockdown-test/debian:bookworm >/dev/null 2>&1 && [ -d /usr/local/go ]; then
  big=$(mktemp -d)
  ctx=$(mktemp -d)
  cp -a /usr/local/go "$ctx/go"
  printf 'FROM lockdown-test/debian:bookworm\nCOPY go /usr/local/go\n' > "$ctx/Dockerfile"
  docker build -q -t lockdown-bench/big "$ctx" >/dev/null 2>&1
  docker save lockdown-bench/big -o "$big/big.tar"
  rm -rf "$ctx"
  row "debian + go toolchain ($(du -m "$big/big.tar" | cut -f1) MB)" "tar -xOf $big/big.tar >/dev/null" "docker-archive:$big/big.tar"
  docker rmi lockdown-bench/big >/dev/null
  rm -rf "$big"
fi
# Warm: the layer cache filled by a first run.
if [ -n "$img" ]; then
  "$bin" sbom --quiet "docker-archive:$img/docker-archive.tar" >/dev/null
  read -r t m < <(measure "$bin" sbom --quiet "docker-archive:$img/docker-archive.tar")
  read -r bt _ < <(measure "$bin" sbom --no-cache --quiet "docker-archive:$img/docker-archive.tar")
  printf '%-34s %8ss %8ss %10sx %7sMB   (baseline: cold)\n' "debian docker-archive: warm" "$t" "$bt" "$(awk "BEGIN{printf \"%.2f\", $t/$bt}")" "$((m/1024))"
fi
