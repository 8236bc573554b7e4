#!/usr/bin/env python3
"""Fix round-trip: `leaklint check --fix --unsafe-fixes` on copies of real
files must leave every file compiling, settle in one run, and keep the
file's line endings, indentation, permissions and encoding declaration.

    python3 bench/roundtrip.py [--bin BIN] [--only-with-findings] DIR...

Every .py and .rs file under DIR is copied to a scratch directory; Python
files also in three variants (CRLF line endings, tab indentation, an
encoding declaration), each only when the variant itself compiles. Copies
get mode 0750 so that a lost permission shows. Then, for every copy that
compiled before (`python3 -m py_compile`; Rust: `rustfmt` parses it) and
that the fix changed:
  - it still compiles;
  - a second `--fix` changes nothing;
  - CRLF files have no bare LF, tab-indented files no line indented by
    four spaces, the mode is 0750, the encoding declaration is still first.
Exit status 1 on any failure; the summary line gives the counts.
"""

import argparse
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile

CODING = "# -*- coding: utf-8 -*-\n"
CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
MODE = 0o750


def python_compiles(path):
    try:
        with tempfile.TemporaryDirectory() as tmp:
            py_compile.compile(path, cfile=os.path.join(tmp, "x.pyc"), doraise=True)
        return True
    except (py_compile.PyCompileError, ValueError, OSError):
        return False


def rust_parses(path):
    try:
        r = subprocess.run(
            ["rustfmt", "--edition", "2021", "--emit", "stdout", path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    # rustfmt exits 1 on a parse error and 0 otherwise with --emit stdout;
    # it may still warn about lines it could not format.
    return r.returncode == 0


def compiles(path):
    return python_compiles(path) if path.endswith(".py") else rust_parses(path)


def to_tabs(text):
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        if spaces % 4 or not stripped.strip():
            out.append(line)
        else:
            out.append("\t" * (spaces // 4) + stripped)
    return "".join(out)


def variants(path, text):
    """(suffix, text, property) of each copy to make of one file."""
    yield "", text, None
    if not path.endswith(".py") or "\r" in text:
        return
    yield ".crlf", text.replace("\n", "\r\n"), "crlf"
    if re.search(r"^    ", text, re.M) and "\t" not in text:
        yield ".tabs", to_tabs(text), "tabs"
    if not CODING_RE.match(text.encode()):
        yield ".coding", CODING + text, "coding"


def run_fix(binary, root):
    subprocess.run(
        [binary, "check", "--fix", "--unsafe-fixes", root],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def files_with_findings(binary, dirs):
    r = subprocess.run(
        [binary, "check", "--select", "ALL", "--format", "json", *dirs],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        found = json.loads(r.stdout or b"[]")
    except ValueError:
        return None
    return {os.path.abspath(f["filename"]) for f in found if f.get("fix")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/leaklint")
    ap.add_argument("--only-with-findings", action="store_true",
                    help="copy only files with a fixable finding (for big corpora)")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    wanted = files_with_findings(binary, args.dirs) if args.only_with_findings else None

    scratch = tempfile.mkdtemp(prefix="leaklint-roundtrip-")
    copies = []  # (copy path, property, compiled before, original bytes)
    n = 0
    for d in args.dirs:
        for dirpath, _, names in os.walk(d):
            for name in sorted(names):
                if not name.endswith((".py", ".rs")):
                    continue
                src = os.path.join(dirpath, name)
                if wanted is not None and os.path.abspath(src) not in wanted:
                    continue
                try:
                    with open(src, encoding="utf-8", newline="") as f:
                        text = f.read()
                except (UnicodeDecodeError, OSError):
                    continue
                # Files beside the copy (leaklint.toml) configure it as
                # they configure the original.
                for suffix, body, prop in variants(src, text):
                    n += 1
                    sub = os.path.join(scratch, str(n))
                    os.makedirs(sub)
                    for cfg in ("leaklint.toml", "pyproject.toml"):
                        if os.path.exists(os.path.join(dirpath, cfg)):
                            shutil.copy(os.path.join(dirpath, cfg), sub)
                    stem, ext = os.path.splitext(name)
                    dst = os.path.join(sub, stem + suffix.replace(".", "_") + ext)
                    with open(dst, "w", encoding="utf-8", newline="") as f:
                        f.write(body)
                    os.chmod(dst, MODE)
                    copies.append((dst, prop, compiles(dst), body.encode()))

    run_fix(binary, scratch)
    changed = [c for c in copies if open(c[0], "rb").read() != c[3]]
    snapshot = {c[0]: open(c[0], "rb").read() for c in changed}
    run_fix(binary, scratch)

    failures = []
    for path, prop, compiled_before, before in changed:
        after = open(path, "rb").read()
        rel = os.path.relpath(path, scratch)
        if compiled_before and not compiles(path):
            failures.append(f"{rel}: compiled before the fix, not after")
        if after != snapshot[path]:
            failures.append(f"{rel}: a second --fix changed it again")
        if prop == "crlf" and re.search(rb"(?<!\r)\n", after):
            failures.append(f"{rel}: CRLF file got a bare LF")
        if prop == "tabs" and re.search(rb"^\t* {4}\S", after, re.M) and not re.search(
            rb"^\t* {4}\S", before, re.M
        ):
            failures.append(f"{rel}: tab-indented file got a space-indented line")
        if prop == "coding" and not after.startswith(CODING.encode()):
            failures.append(f"{rel}: the encoding declaration moved")
        if os.stat(path).st_mode & 0o777 != MODE:
            failures.append(f"{rel}: permissions changed")
        if not compiled_before:
            failures.append(f"{rel}: the fix changed a file that did not compile")

    compiled = sum(1 for c in changed if compiles(c[0]))
    settled = sum(1 for c in changed if open(c[0], "rb").read() == snapshot[c[0]])
    print(
        f"roundtrip: {len(copies)} copies, {len(changed)} fixed, "
        f"{compiled} of them compile, "
        f"{settled} idempotent, "
        f"{len(failures)} failures (scratch: {scratch})"
    )
    for f in failures:
        print("  FAIL", f)
    if failures:
        sys.exit(1)
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
