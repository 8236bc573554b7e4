#!/usr/bin/env bash
# Writes every finding leaklint reports on fixtures/ and on the corpus
# from ../shared/bench/make-corpus.sh as JSON (code, file, row, column,
# message, labels, help and fix), one file per part, so that two builds
# can be compared byte for byte:
#
#   bench/findings.sh OUT_DIR [BINARY] [CORPUS_DIR]
#   diff -r before/ after/
#
# Runs once with the default rule set and once with `--select ALL`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: bench/findings.sh OUT_DIR [BINARY] [CORPUS_DIR]}"
bin="${2:-$here/target/release/leaklint}"
corpus="${3:-$here/../corpus}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
run() { # name dir path...
    local name=$1 dir=$2
    shift 2
    (cd "$dir" && "$bin" check --format json --exit-zero "$@" > "$out/$name.json")
    (cd "$dir" && "$bin" check --format json --exit-zero --select ALL "$@" > "$out/$name-all.json")
}
run fixtures "$here" fixtures
if [ -d "$corpus/python" ]; then
    run corpus-python "$corpus" python
    run corpus-rust "$corpus" rust
fi
for f in "$out"/*.json; do
    printf '%s %s\n' "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$f")" "$(basename "$f")"
done
