#!/usr/bin/env python3
"""Measures leaklint on a corpus directory, against ruff when it is there.

    bench/bench.py CORPUS [--bin BINARY] [--runs N] [--part python|rust]...

CORPUS is any directory; its `python/` and `rust/` subdirectories are
measured as parts when present, else CORPUS itself is one part. Per part:

- cold: `check --no-cache`, wall time and peak RSS, median of N runs; for
  Python paired with `ruff check --no-cache --select SIM115`, the two
  alternating so that machine noise falls on both;
- counts: files read, parsed and analysed (`-v`);
- parse floor: the parsers alone over the files the run admits, when
  `cargo build --release --example parse_floor` has built the example;
- warm: the same check with a cache filled by a first run, and ruff with
  its own cache, median of N;
- one file warm: `check ONE_FILE` with its whole project, after a first
  run. A part without a project marker gets a temporary `leaklint.toml`
  at its root for the measurement (removed afterwards), so that the file's
  project is the part.

Needs only Python 3 and the binary (`cargo build --release`).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MARKERS = (".git", "pyproject.toml", "setup.cfg", "leaklint.toml", ".leaklint.toml", "Cargo.toml")


def timed(cmd, cwd):
    """Wall seconds and the peak RSS (MiB) of one run of cmd."""
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: run each
    # command in a fresh `python3 -c` child so that it is this one's.
    probe = (
        "import resource,subprocess,sys,time;"
        "t=time.perf_counter();"
        "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "w=time.perf_counter()-t;"
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024.0


def median_of(runs, cmds, cwd):
    """Each command's median wall time and RSS, the commands alternating."""
    samples = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            samples[i].append(timed(cmd, cwd))
    return [
        (statistics.median(w for w, _ in s), statistics.median(r for _, r in s)) for s in samples
    ]


def counts(binary, args, cwd):
    err = subprocess.run(
        [binary, "check", "-v", "--exit-zero", *args], cwd=cwd, capture_output=True, text=True
    ).stderr
    line = [x for x in err.splitlines() if x.startswith("leaklint:") and "read" in x]
    return line[-1] if line else err.strip()


def source_files(root, suffixes):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (".leaklint_cache", ".ruff_cache"))
        for f in sorted(filenames):
            if f.endswith(suffixes):
                yield os.path.join(dirpath, f)


def lines_of(files):
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            total += fh.read().count(b"\n")
    return total


def one_file(part_dir, suffixes, library_words):
    """A file that names a resource library (the editor's case), else the
    first file."""
    first = None
    for f in source_files(part_dir, suffixes):
        first = first or f
        with open(f, "rb") as fh:
            head = fh.read(20000)
        if any(w in head for w in library_words):
            return f
    return first


def parse_floor(binary, name, parent):
    """The parsers' time alone over the files the run admits, when the
    example is built (`cargo build --release --example parse_floor`)."""
    floor = os.path.join(os.path.dirname(binary), "examples", "parse_floor")
    if not os.access(floor, os.X_OK):
        return
    env = dict(os.environ, LEAKLINT_DEBUG_ADMITTED="1")
    err = subprocess.run(
        [binary, "check", "--no-cache", "--exit-zero", name], cwd=parent, env=env, capture_output=True, text=True
    ).stderr
    admitted = [l[len("leaklint: admitted "):] for l in err.splitlines() if l.startswith("leaklint: admitted ")]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(admitted) + "\n")
    try:
        out = subprocess.run([floor, fh.name], cwd=parent, capture_output=True, text=True).stdout
        for line in out.splitlines():
            print("parse floor: " + line)
    finally:
        os.remove(fh.name)


def measure(part, part_dir, binary, runs, ruff):
    suffixes = (".py", ".pyi") if part == "python" else (".rs",) if part == "rust" else (".py", ".pyi", ".rs")
    files = list(source_files(part_dir, suffixes))
    lines = lines_of(files)
    parent, name = os.path.split(os.path.abspath(part_dir))
    print(f"== {part}: {len(files)} files, {lines} lines")
    cache = tempfile.mkdtemp(prefix="leaklint-bench-cache-")
    ruff_cache = tempfile.mkdtemp(prefix="leaklint-bench-ruff-")
    try:
        cold = [[binary, "check", "--no-cache", "--exit-zero", "--format", "concise", name]]
        with_ruff = ruff is not None and part == "python"
        if with_ruff:
            cold.append([ruff, "check", "--no-cache", "--select", "SIM115", "--exit-zero", "-q", name])
        results = median_of(runs, cold, parent)
        wall, rss = results[0]
        print(f"cold:  {wall:.3f} s  {rss:.0f} MiB  {lines / wall / 1e6:.2f} M lines/s")
        if with_ruff:
            rwall, rrss = results[1]
            print(f"ruff cold (SIM115): {rwall:.3f} s  {rrss:.0f} MiB  -> leaklint/ruff {wall / rwall:.2f}x")
        print("counts: " + counts(binary, ["--no-cache", name], parent))
        parse_floor(binary, name, parent)
        warm = [binary, "check", "--cache-dir", cache, "--exit-zero", "--format", "concise", name]
        subprocess.run(warm, cwd=parent, capture_output=True)
        # The stat index trusts a file's stat two seconds after hashing it.
        time.sleep(2.1)
        subprocess.run(warm, cwd=parent, capture_output=True)
        warm_cmds = [warm]
        if with_ruff:
            ruff_warm = [ruff, "check", "--cache-dir", ruff_cache, "--select", "SIM115", "--exit-zero", "-q", name]
            subprocess.run(ruff_warm, cwd=parent, capture_output=True)
            warm_cmds.append(ruff_warm)
        results = median_of(runs, warm_cmds, parent)
        print(f"warm:  {results[0][0]:.3f} s  {results[0][1]:.0f} MiB  ({counts(binary, ['--cache-dir', cache, name], parent).split('; ', 1)[-1]})")
        if with_ruff:
            print(f"ruff warm: {results[1][0]:.3f} s -> leaklint/ruff {results[0][0] / results[1][0]:.2f}x")
        words = [b"import sqlalchemy", b"import psycopg", b"import sqlite3", b"sqlx::", b"diesel::", b"import requests"]
        target = one_file(part_dir, suffixes, words)
        marker = None
        if not any(os.path.exists(os.path.join(part_dir, m)) for m in MARKERS):
            marker = os.path.join(part_dir, "leaklint.toml")
            with open(marker, "w") as fh:
                fh.write("# Written by bench/bench.py for one measurement; removed after it.\n")
        try:
            rel = os.path.relpath(target, parent)
            single = [binary, "check", "--cache-dir", cache, "--exit-zero", "--format", "concise", rel]
            subprocess.run(single, cwd=parent, capture_output=True)
            time.sleep(2.1)
            subprocess.run(single, cwd=parent, capture_output=True)
            (swall, srss), = median_of(runs, [single], parent)
            print(f"one file warm ({rel}): {swall * 1000:.0f} ms  {srss:.0f} MiB  ({counts(binary, ['--cache-dir', cache, rel], parent)})")
        finally:
            if marker:
                os.remove(marker)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(ruff_cache, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bin", default=os.path.join(here, "target", "release", "leaklint"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--part", action="append", help="python or rust (default: both when present)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary}: not built (cargo build --release)")
    corpus = os.path.abspath(args.corpus)
    parts = [p for p in ("python", "rust") if os.path.isdir(os.path.join(corpus, p))]
    if args.part:
        parts = [p for p in parts if p in args.part]
    ruff = shutil.which("ruff")
    if ruff:
        version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"ruff: {version}")
    else:
        print("ruff: not installed (pip install ruff) - leaklint alone")
    print(f"leaklint: {binary}; {args.runs} runs each; cpus: {os.cpu_count()}")
    if not parts:
        measure(os.path.basename(corpus), corpus, binary, args.runs, ruff)
    for p in parts:
        measure(p, os.path.join(corpus, p), binary, args.runs, ruff)


if __name__ == "__main__":
    main()
