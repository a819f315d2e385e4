#!/usr/bin/env bash
# One table of ratios for the image scanner (issue 16), all measured in the
# same run so they survive a noisy machine:
#   - against the floor of reading every layer: sha256 of the stored blob
#     and gzip -dc | sha256sum of it, run as one pipeline (two cores);
#   - against a second lockdown binary (BASE, e.g. today's main);
#   - against trivy, syft and grype when they are on PATH.
#
# Usage: bench/compare.sh [-n RUNS] [-s SHARED_IMAGES] [-c CASES] [BASE_BINARY]
#   RUNS (default 3): wall time is the best of RUNS, peak RSS the largest.
#   CASES (default all): a comma-separated subset of cold,warm,files,shared,peers.
#   BASE_BINARY: without one, main is built from this repository
#   (git archive main, so nothing in a work tree changes). Built static
#   (CGO_ENABLED=0) like the binary under test; give a BASE_BINARY to
#   compare against another build.
# Run the image tests once first so the Debian test image exists:
#   go test ./internal/image -run TestDebian
# The bench images (Debian + the Go toolchain, ~400 MB; Debian + 200,000
# files, ~1.9 GB; 100 images sharing the Debian base) are made once with
# bench/mkimages under ~/.cache/lockdown-test/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 shared=100 cases=cold,warm,files,shared,peers
while getopts n:s:c: o; do
  case $o in
    n) runs=$OPTARG ;;
    s) shared=$OPTARG ;;
    c) cases=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] [-s SHARED_IMAGES] [-c CASES] [BASE_BINARY]" >&2; exit 2 ;;
  esac
done
want() { [[ ",$cases," == *",$1,"* ]]; }
shift $((OPTIND - 1))

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Both binaries are built static, as the image and the README build them.
export CGO_ENABLED=0
new=$tmp/lockdown
go build -o "$new" ./cmd/lockdown
base=${1:-}
if [ -z "$base" ]; then
  mkdir "$tmp/main"
  git archive main | tar -x -C "$tmp/main"
  (cd "$tmp/main" && go build -o "$tmp/lockdown-main" ./cmd/lockdown)
  base=$tmp/lockdown-main
fi
[ -x "$base" ] || { echo "compare.sh: $base is not an executable" >&2; exit 2; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/lockdown-test
img=$(ls -d "$cache"/images/debian-*/ 2>/dev/null | head -1)
if [ -z "$img" ] || [ ! -f "$img/done" ]; then
  echo "compare.sh: no Debian test image in $cache/images: run go test ./internal/image -run TestDebian first" >&2
  exit 2
fi
layer=$img/layer.tar
blob=$(ls -S "$img"/oci/blobs/sha256/* | head -1) # the gzip layer blob
benchdir=$cache/bench/$(basename "$img")
mkdir -p "$benchdir"
go build -o "$tmp/mkimages" ./bench/mkimages
make_once() { # make_once OUT mkimages-args…
  local out=$1; shift
  [ -e "$out" ] && return
  rm -rf "$out.part"
  "$tmp/mkimages" "$@" -base "$layer" -o "$out.part"
  mv "$out.part" "$out"
}
big=$benchdir/debian-go.tar
files=$benchdir/files-200k.tar
sharedDir=$benchdir/shared-$shared
if want warm && [ -d /usr/local/go ]; then make_once "$big" dir -dir /usr/local/go; fi
if want files; then make_once "$files" files -n 200000; fi
if want shared; then make_once "$sharedDir" shared -n "$shared"; fi

# measure [-1] CMD… prints "best-wall-seconds max-rss-KiB" over RUNS runs
# (one run with -1).
measure() {
  local best="" rss=0 out n=$runs
  if [ "$1" = -1 ]; then n=1; shift; fi
  for _ in $(seq "$n"); do
    /usr/bin/time -o "$tmp/time" -f '%e %M' "$@" >/dev/null 2>"$tmp/err" || { echo "compare.sh: $* failed:" >&2; cat "$tmp/err" >&2; exit 1; }
    out=$(tail -1 "$tmp/time")
    local t=${out% *} m=${out#* }
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss"
}
ratio() { awk "BEGIN{d=$2; if (d < 0.001) d = 0.001; printf \"%.2f\", $1/d}"; }
printf '%-46s %10s %10s %8s %9s  %s\n' "case" "lockdown" "other" "ratio" "peakRSS" "compared with (target)"
row() { # row NAME NEW OTHER PEAKKIB WHAT
  printf '%-46s %9ss %9ss %7sx %7sMB  %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "$(($4 / 1024))" "$5"
}
# preload PATH…: read the inputs into the page cache first, so that "cold"
# means an empty layer cache for both binaries, never a disk read for the
# first one only (on these machines DAMON reclaims idle pages within minutes)
preload() { find "$@" -type f -exec cat {} + >/dev/null; }
# fresh CACHE_DIR: an empty layer cache for each binary
cachedir() { local d; d=$(mktemp -d "$tmp/cache.XXXX"); echo "$d"; }

# 1. Cold sbom of the Debian minbase image against the read+hash+decompress floor.
if want cold; then
floor() { measure bash -c "tee >(sha256sum >/dev/null) < '$blob' | gzip -dc | sha256sum >/dev/null"; }
read -r ft _ < <(floor)
for form in "docker-archive:$img/docker-archive.tar" "oci-archive:$img/oci-archive.tar" "oci-dir:$img/oci"; do
  preload "${form#*:}"
  read -r t m < <(measure env LOCKDOWN_CACHE_DIR=$(cachedir) "$new" sbom --no-cache --quiet "$form")
  read -r bt _ < <(measure env LOCKDOWN_CACHE_DIR=$(cachedir) "$base" sbom --no-cache --quiet "$form")
  row "cold sbom debian ${form%%:*}" "$t" "$ft" "$m" "floor: sha256 + gzip -dc | sha256sum (<= 1.5)"
  row "cold sbom debian ${form%%:*}" "$t" "$bt" "$m" "base binary"
done
fi

# 2. Warm sbom of Debian + the Go toolchain (docker-archive).
if want warm && [ -e "$big" ]; then
  label="warm sbom debian+go $(($(stat -c %s "$big") >> 20))MB docker-archive"
  c1=$(cachedir) c2=$(cachedir)
  LOCKDOWN_CACHE_DIR=$c1 "$new" sbom --quiet "docker-archive:$big" >/dev/null
  LOCKDOWN_CACHE_DIR=$c2 "$base" sbom --quiet "docker-archive:$big" >/dev/null
  read -r t m < <(measure env LOCKDOWN_CACHE_DIR=$c1 "$new" sbom --quiet "docker-archive:$big")
  read -r bt _ < <(measure env LOCKDOWN_CACHE_DIR=$c2 "$base" sbom --quiet "docker-archive:$big")
  row "$label" "$t" "$bt" "$m" "base binary warm (<= 0.2)"
  read -r ct _ < <(measure env LOCKDOWN_CACHE_DIR=$(cachedir) "$new" sbom --no-cache --quiet "docker-archive:$big")
  row "$label" "$t" "$ct" "$m" "own cold run"
fi

# 3. 200,000 files in one layer: peak RSS cold and warm, wall against base.
if want files; then
label="sbom debian+200k files $(($(stat -c %s "$files") >> 20))MB"
c1=$(cachedir) c2=$(cachedir)
preload "$files"
read -r t m < <(measure -1 env LOCKDOWN_CACHE_DIR=$c1 "$new" sbom --quiet "docker-archive:$files")
read -r bt bm < <(measure -1 env LOCKDOWN_CACHE_DIR=$c2 "$base" sbom --quiet "docker-archive:$files")
row "cold $label" "$t" "$bt" "$m" "base binary (<= 0.6; RSS <= 60 MB; base $((bm / 1024)) MB)"
read -r t m < <(measure env LOCKDOWN_CACHE_DIR=$c1 "$new" sbom --quiet "docker-archive:$files")
read -r bt bm < <(measure env LOCKDOWN_CACHE_DIR=$c2 "$base" sbom --quiet "docker-archive:$files")
row "warm $label" "$t" "$bt" "$m" "base binary (<= 0.6; RSS <= 60 MB; base $((bm / 1024)) MB)"
fi

# 4. Images sharing the Debian base, one process each, warm cache.
db=$(ls -t "$cache"/vulndb/*.db 2>/dev/null | head -1 || true)
# run1 BINARY CACHE CMD… IMAGE: one scan of a shared image, output dropped; exit 0 or 1 (a report
# with findings) is a run, anything else stops the script (a loop of failures would time errors).
run1() {
  local bin=$1 c=$2 rc=0; shift 2
  LOCKDOWN_CACHE_DIR=$c "$bin" "$@" >/dev/null 2>"$tmp/err" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "compare.sh: $bin $* failed (exit $rc):" >&2
    cat "$tmp/err" >&2
    return 1
  fi
}
per_min() { # per_min NEW CACHE_NEW CACHE_BASE CMD…: "new base" images/min over the shared images,
  # the two binaries taking turns image by image so that a change in the machine's load hits both
  local nb=$1 cn=$2 cb=$3 tn=0 tb=0 s i; shift 3
  run1 "$nb" "$cn" "$@" "oci-dir:$sharedDir:app-0" || return 1
  run1 "$base" "$cb" "$@" "oci-dir:$sharedDir:app-0" || return 1
  for i in $(seq 0 $((shared - 1))); do
    s=$EPOCHREALTIME
    run1 "$nb" "$cn" "$@" "oci-dir:$sharedDir:app-$i" || return 1
    tn=$(awk "BEGIN{print $tn + $EPOCHREALTIME - $s}")
    s=$EPOCHREALTIME
    run1 "$base" "$cb" "$@" "oci-dir:$sharedDir:app-$i" || return 1
    tb=$(awk "BEGIN{print $tb + $EPOCHREALTIME - $s}")
  done
  awk "BEGIN{printf \"%.0f %.0f\\n\", $shared * 60 / $tn, $shared * 60 / $tb}"
}
# The scanner build (sbom, scan, db, cache and version only) as well as the
# full binary: one process per image is what it is for.
if want shared; then
  scanner=$tmp/lockdown-scan
  go build -tags scanonly -o "$scanner" ./cmd/lockdown
fi
for cmd in sbom scan; do
  want shared || break
  args=("$cmd" --quiet)
  if [ "$cmd" = scan ]; then
    [ -n "$db" ] || continue
    args+=(--db "$db" --max-db-age 0)
  fi
  for bin in "$new" "$scanner"; do
    label="$cmd $shared images sharing debian, warm"
    [ "$bin" = "$scanner" ] && label="$cmd (scanner build) $shared images, warm"
    rates=$(per_min "$bin" "$(cachedir)" "$(cachedir)" "${args[@]}")
    read -r n b <<<"$rates"
    printf '%-46s %7s/min %7s/min %7sx %9s  %s\n' "$label" "$n" "$b" "$(ratio "$n" "$b")" "-" "base binary (>= 2000/min), load $(cut -d' ' -f1 /proc/loadavg)"
  done
done

# 5. Peers, when installed.
want peers || exit 0
if command -v trivy >/dev/null; then
  read -r t _ < <(measure env LOCKDOWN_CACHE_DIR=$(cachedir) "$new" sbom --no-cache --quiet "docker-archive:$img/docker-archive.tar")
  read -r pt _ < <(measure trivy image --cache-dir "$(cachedir)" --quiet --format cyclonedx --input "$img/docker-archive.tar")
  row "cold sbom debian docker-archive" "$t" "$pt" 0 "trivy cold"
fi
if command -v syft >/dev/null; then
  read -r t _ < <(measure env LOCKDOWN_CACHE_DIR=$(cachedir) "$new" sbom --no-cache --quiet "docker-archive:$img/docker-archive.tar")
  read -r pt _ < <(measure syft -q "docker-archive:$img/docker-archive.tar")
  row "cold sbom debian docker-archive" "$t" "$pt" 0 "syft"
fi
if command -v grype >/dev/null && [ -n "$db" ]; then
  read -r t _ < <(measure env LOCKDOWN_CACHE_DIR=$(cachedir) "$new" scan --no-cache --quiet --db "$db" --max-db-age 0 "docker-archive:$img/docker-archive.tar")
  read -r pt _ < <(measure grype -q "docker-archive:$img/docker-archive.tar")
  row "cold scan debian docker-archive" "$t" "$pt" 0 "grype"
fi
