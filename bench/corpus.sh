#!/usr/bin/env bash
# Times `leaklint check` on the real-world corpus from
# ../shared/bench/make-corpus.sh (never committed), with the shared
# timeit.py: wall time and peak RSS, median of RUNS runs.
#
#   bench/corpus.sh [CORPUS_DIR]        (default: ../corpus beside the repo)
#
# Prints, per part (python, rust), the wall time, peak RSS, files, lines and
# findings per rule, so throughput can be compared across changes.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="$here/../shared/bench"
corpus="${1:-$here/../corpus}"
runs="${RUNS:-3}"
[ -d "$corpus/python" ] || bash "$shared/make-corpus.sh" "$corpus"
cargo build --release --locked --manifest-path "$here/Cargo.toml" >&2
bin="$here/target/release/leaklint"
out="$(mktemp -d)"
for part in python rust; do
    case $part in
        python) files=$(find "$corpus/python" -name '*.py' -o -name '*.pyi' | wc -l) ;;
        rust) files=$(find "$corpus/rust" -name '*.rs' | wc -l) ;;
    esac
    echo "== $part: $files files"
    grep -i "TOTAL-$part" "$corpus/MANIFEST.txt" || true
    (cd "$corpus" && python3 "$shared/timeit.py" "$runs" "$out/$part.txt" -- \
        "$bin" check --format concise --exit-zero "$part")
    echo "findings per rule:"
    awk '{print $2}' "$out/$part.txt" | sort | uniq -c
done
rm -rf "$out"
