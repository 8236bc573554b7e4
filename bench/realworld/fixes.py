#!/usr/bin/env python3
"""Measures leaklint on real fixed leaks (bench/realworld/python.toml).

    bench/realworld/fixes.py [--mirrors /work/.mirror] [--leaklint PATH]
                             [--work /tmp/leaklint-fixes] [--json]
                             [--only SUBSTRING]... [--timeout SECONDS]

For each [[fix]] entry the parent tree (the leaky version) and the fix tree
are exported from a local bare mirror (`git archive COMMIT | tar -x`, cached
under --work) and leaklint checks each whole tree from its root:

    leaklint check --select ALL --format json --exit-zero [--no-cache] .

- CAUGHT: the parent tree has a finding in `file` whose row lies within
  `lines` (with +-2 rows of slack);
- FALSE-AFTER: the number of findings in the fix tree's `file` within
  `fixed_lines` (+-2), i.e. what still fires after the leak was fixed.

A mirror is looked up as MIRRORS/owner+name/ (its `repo` or `repo/.git`
git directory, or any git directory below it). Entries whose mirror is
missing are SKIPPED (fetch them first); entries whose commit cannot be
exported or whose check fails or times out are ERROR. Trees are checked one
at a time. Reports are cached per tree and leaklint build under --work, so a
second run only re-checks what changed; --rerun ignores that cache.

Python 3.11+, standard library only. Always exits 0.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SLACK = 2


def find_git_dir(mirrors, repo):
    """The git directory of repo's mirror, or None."""
    base = os.path.join(mirrors, repo.replace("/", "+"))
    if not os.path.isdir(base):
        return None

    def is_git_dir(d):
        return os.path.isfile(os.path.join(d, "HEAD")) and os.path.isdir(os.path.join(d, "objects"))

    for cand in (os.path.join(base, "repo", ".git"), os.path.join(base, "repo"), os.path.join(base, ".git"), base):
        if is_git_dir(cand):
            return cand
    for dirpath, dirnames, _ in os.walk(base):
        if is_git_dir(dirpath):
            return dirpath
        if dirpath[len(base):].count(os.sep) >= 3:
            dirnames[:] = []
    return None


def run(cmd, timeout, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


def resolve_commit(git_dir, commit, timeout):
    p = run(["git", "--git-dir", git_dir, "rev-parse", "--verify", "--quiet", commit + "^{commit}"], timeout)
    return p.stdout.decode().strip() if p.returncode == 0 else None


def export_blobs(git_dir, commit, dest, timeout):
    """Writes commit's files into dest one blob at a time, skipping blobs the
    mirror lacks (snapshots can leave out large files). Returns the number of
    files skipped."""
    deadline = time.monotonic() + timeout
    ls = run(["git", "--git-dir", git_dir, "ls-tree", "-r", "-z", "--full-tree", commit], timeout)
    if ls.returncode != 0:
        raise RuntimeError("git ls-tree failed: " + ls.stderr.decode(errors="replace").strip())
    items = []
    for rec in ls.stdout.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob":
            items.append((mode, sha.decode(), os.fsdecode(path)))
    skipped = 0
    root = os.path.realpath(dest)
    cat = subprocess.Popen(
        ["git", "--git-dir", git_dir, "cat-file", "--batch"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        for mode, sha, path in items:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("git cat-file", timeout)
            cat.stdin.write(sha.encode() + b"\n")
            cat.stdin.flush()
            header = cat.stdout.readline().split()
            if len(header) < 2 or header[1] == b"missing":
                skipped += 1
                continue
            data = cat.stdout.read(int(header[2]))
            cat.stdout.read(1)  # the newline after each object
            target = os.path.realpath(os.path.join(dest, path))
            if not target.startswith(root + os.sep):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if mode == b"120000":
                continue  # symlinks are not needed to lint the tree
            with open(target, "wb") as f:
                f.write(data)
            if mode == b"100755":
                os.chmod(target, 0o755)
    finally:
        try:
            cat.stdin.close()
        except OSError:
            pass
        cat.kill()
        cat.wait()
    return skipped


def export_tree(git_dir, commit, dest, timeout):
    """Exports commit into dest (cached); returns None or an error string."""
    marker = os.path.join(dest, ".leaklint-fixes-exported")
    if os.path.isfile(marker):
        return None
    if os.path.exists(dest):
        shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    try:
        archive = subprocess.Popen(
            ["git", "--git-dir", git_dir, "archive", "--format=tar", commit],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        tar = subprocess.Popen(
            ["tar", "-x", "-C", dest], stdin=archive.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        archive.stdout.close()
        deadline = time.monotonic() + timeout
        _, tar_err = tar.communicate(timeout=max(1.0, deadline - time.monotonic()))
        _, arch_err = archive.communicate(timeout=max(1.0, deadline - time.monotonic()))
        if archive.returncode != 0:
            raise RuntimeError("git archive failed: " + arch_err.decode(errors="replace").strip()[:300])
        if tar.returncode != 0:
            raise RuntimeError("tar failed: " + tar_err.decode(errors="replace").strip()[:300])
    except subprocess.TimeoutExpired:
        for proc in (archive, tar):
            proc.kill()
        shutil.rmtree(dest, ignore_errors=True)
        return f"export of {commit[:12]} timed out"
    except Exception as exc:  # noqa: BLE001 - fall back to one blob at a time
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        try:
            skipped = export_blobs(git_dir, commit, dest, timeout)
        except subprocess.TimeoutExpired:
            shutil.rmtree(dest, ignore_errors=True)
            return f"export of {commit[:12]} timed out"
        except Exception as exc2:  # noqa: BLE001 - any failure makes this entry an ERROR
            shutil.rmtree(dest, ignore_errors=True)
            return " ".join(f"{exc}; fallback: {exc2}".split())
        if skipped:
            with open(os.path.join(dest, ".leaklint-fixes-missing-blobs"), "w") as f:
                f.write(f"{skipped}\n")
    with open(marker, "w") as f:
        f.write(commit + "\n")
    return None


def binary_key(leaklint):
    st = os.stat(leaklint)
    return f"{os.path.realpath(leaklint)}:{st.st_size}:{st.st_mtime_ns}"


def has_flag(leaklint, flag):
    try:
        p = run([leaklint, "check", "--help"], 60)
        return flag in p.stdout.decode(errors="replace")
    except Exception:  # noqa: BLE001
        return False


def check_tree(leaklint, tree, extra, timeout, cache_file, key, rerun):
    """leaklint's findings for the whole tree: (list, None) or (None, error)."""
    if not rerun and os.path.isfile(cache_file):
        try:
            with open(cache_file) as f:
                cached = json.load(f)
            if cached.get("key") == key:
                return cached["findings"], None
        except (OSError, ValueError, KeyError):
            pass
    cmd = [leaklint, "check", "--select", "ALL", "--format", "json", "--exit-zero", *extra, "."]
    try:
        p = run(cmd, timeout, cwd=tree)
    except subprocess.TimeoutExpired:
        return None, f"leaklint timed out after {timeout}s"
    except OSError as exc:
        return None, f"cannot run leaklint: {exc}"
    out = p.stdout.decode(errors="replace").strip()
    try:
        findings = json.loads(out) if out else []
    except ValueError:
        err = p.stderr.decode(errors="replace").strip()
        return None, f"leaklint exit {p.returncode}, unparsable output: {(err or out)[:300]}"
    if not isinstance(findings, list):
        return None, "leaklint output is not a JSON array"
    try:
        with open(cache_file, "w") as f:
            json.dump({"key": key, "findings": findings}, f)
    except OSError:
        pass
    return findings, None


def norm(path, tree):
    path = path.replace("\\", "/")
    if os.path.isabs(path):
        path = os.path.relpath(path, tree).replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def in_file(findings, tree, file):
    return [f for f in findings if norm(str(f.get("filename", "")), tree) == file]


def within(findings, span):
    lo, hi = span[0] - SLACK, span[1] + SLACK
    out = []
    for f in findings:
        loc = f.get("location") or {}
        row = loc.get("row")
        if isinstance(row, int) and lo <= row <= hi:
            out.append(f)
    return out


def brief(findings):
    return sorted({f"{f.get('code')}@{(f.get('location') or {}).get('row')}" for f in findings})


def measure(entry, args, extra, key):
    res = {
        "repo": entry.get("repo"),
        "fix": entry.get("fix"),
        "file": entry.get("file"),
        "kind": entry.get("kind"),
        "library": entry.get("library"),
        "lines": entry.get("lines"),
        "fixed_lines": entry.get("fixed_lines"),
    }
    try:
        repo, fix, file = entry["repo"], entry["fix"], entry["file"]
        lines, fixed_lines = entry["lines"], entry["fixed_lines"]
    except KeyError as exc:
        res.update(status="ERROR", error=f"entry lacks {exc}")
        return res
    git_dir = find_git_dir(args.mirrors, repo)
    if git_dir is None:
        res.update(status="SKIPPED", error=f"no mirror for {repo} under {args.mirrors} (fetch github:{repo})")
        return res
    try:
        fix_c = resolve_commit(git_dir, fix, args.timeout)
        parent = entry.get("parent")
        parent_c = resolve_commit(git_dir, parent, args.timeout) if parent else None
        if parent_c is None and fix_c is not None:
            parent_c = resolve_commit(git_dir, fix_c + "^1", args.timeout)
    except subprocess.TimeoutExpired:
        res.update(status="ERROR", error="git rev-parse timed out")
        return res
    if fix_c is None or parent_c is None:
        missing = fix if fix_c is None else (parent or fix + "^1")
        res.update(status="ERROR", error=f"commit {missing} not in the mirror {git_dir}")
        return res
    repo_work = os.path.join(args.work, repo.replace("/", "+"))
    trees = {}
    for side, commit in (("parent", parent_c), ("fix", fix_c)):
        dest = os.path.join(repo_work, commit)
        err = export_tree(git_dir, commit, dest, args.timeout)
        if err:
            res.update(status="ERROR", error=f"{side} tree: {err}")
            return res
        if not os.path.isfile(os.path.join(dest, file)):
            res.update(status="ERROR", error=f"{file} is not in the {side} tree {commit[:12]}")
            return res
        findings, err = check_tree(
            args.leaklint, dest, extra, args.timeout, os.path.join(repo_work, commit + ".findings.json"), key, args.rerun
        )
        if err:
            res.update(status="ERROR", error=f"{side} tree: {err}")
            return res
        trees[side] = (dest, findings)
        missing = os.path.join(dest, ".leaklint-fixes-missing-blobs")
        if os.path.isfile(missing):
            with open(missing) as f:
                res[f"{side}_missing_blobs"] = int(f.read().strip() or 0)
    p_tree, p_find = trees["parent"]
    f_tree, f_find = trees["fix"]
    p_file = in_file(p_find, p_tree, file)
    f_file = in_file(f_find, f_tree, file)
    hit = within(p_file, lines)
    after = within(f_file, fixed_lines)
    res.update(
        status="CAUGHT" if hit else "MISSED",
        caught=bool(hit),
        false_after=len(after),
        parent_hits=brief(hit),
        fix_hits=brief(after),
        parent_file_findings=len(p_file),
        fix_file_findings=len(f_file),
        parent_tree_findings=len(p_find),
        fix_tree_findings=len(f_find),
        parent=parent_c,
    )
    return res


def table(results):
    rows = [("#", "status", "after", "kind", "repo", "file:lines", "parent hits / note")]
    for i, r in enumerate(results, 1):
        lines = r.get("lines") or ["?", "?"]
        loc = f"{r.get('file')}:{lines[0]}-{lines[1]}"
        if r["status"] in ("CAUGHT", "MISSED"):
            after = str(r["false_after"])
            detail = ", ".join(r["parent_hits"]) or f"({r['parent_file_findings']} other findings in file)"
            if r["fix_hits"]:
                detail += " | after: " + ", ".join(r["fix_hits"])
        else:
            after = "-"
            detail = " ".join(str(r.get("error", "")).split())
        rows.append((str(i), r["status"], after, str(r.get("kind")), str(r.get("repo")), loc, detail))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 18)
    return "\n".join(out)


def totals(results):
    measured = [r for r in results if r["status"] in ("CAUGHT", "MISSED")]
    caught = sum(1 for r in measured if r["caught"])
    after = sum(r["false_after"] for r in measured)
    m = len(measured)
    by_kind = {}
    for r in measured:
        k = by_kind.setdefault(r.get("kind"), [0, 0])
        k[0] += r["caught"]
        k[1] += 1
    return {
        "entries": len(results),
        "measured": m,
        "caught": caught,
        "caught_pct": round(100.0 * caught / m, 1) if m else 0.0,
        "false_after": after,
        "false_after_per_10": round(10.0 * after / m, 2) if m else 0.0,
        "skipped": [r["repo"] for r in results if r["status"] == "SKIPPED"],
        "errors": [f"{r['repo']}: {r.get('error')}" for r in results if r["status"] == "ERROR"],
        "by_kind": {k: {"caught": v[0], "of": v[1]} for k, v in sorted(by_kind.items(), key=lambda kv: str(kv[0]))},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", default="/work/.mirror", help="directory of fetched mirrors (owner+name/...)")
    ap.add_argument("--leaklint", default="target/release/leaklint", help="leaklint binary")
    ap.add_argument("--work", default="/tmp/leaklint-fixes", help="where trees and reports are cached")
    ap.add_argument("--fixes", default=os.path.join(HERE, "python.toml"), help="the benchmark file")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per export or check")
    ap.add_argument("--only", action="append", default=[], help="measure only entries whose repo contains this")
    ap.add_argument("--rerun", action="store_true", help="ignore cached reports")
    ap.add_argument("--json", action="store_true", help="print machine-readable results")
    args = ap.parse_args()

    leaklint = args.leaklint
    if not os.path.isabs(leaklint) and not os.path.exists(leaklint) and os.path.exists(os.path.join(ROOT, leaklint)):
        leaklint = os.path.join(ROOT, leaklint)
    args.leaklint = os.path.abspath(leaklint)
    args.mirrors = os.path.abspath(args.mirrors)
    args.work = os.path.abspath(args.work)

    try:
        with open(args.fixes, "rb") as f:
            entries = tomllib.load(f).get("fix", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"fixes.py: cannot read {args.fixes}: {exc}", file=sys.stderr)
        return
    if args.only:
        entries = [e for e in entries if any(o in str(e.get("repo", "")) for o in args.only)]
    if not os.access(args.leaklint, os.X_OK):
        print(f"fixes.py: no leaklint binary at {args.leaklint}", file=sys.stderr)
        results = [
            {"repo": e.get("repo"), "file": e.get("file"), "kind": e.get("kind"), "lines": e.get("lines"),
             "status": "ERROR", "error": "no leaklint binary"}
            for e in entries
        ]
    else:
        os.makedirs(args.work, exist_ok=True)
        extra = ["--no-cache"] if has_flag(args.leaklint, "--no-cache") else []
        key = hashlib.sha256((binary_key(args.leaklint) + " " + " ".join(extra)).encode()).hexdigest()
        results = []
        for n, entry in enumerate(entries, 1):
            print(f"[{n}/{len(entries)}] {entry.get('repo')} {str(entry.get('fix'))[:12]}", file=sys.stderr, flush=True)
            try:
                results.append(measure(entry, args, extra, key))
            except Exception as exc:  # noqa: BLE001 - one broken entry must not stop the run
                results.append({"repo": entry.get("repo"), "file": entry.get("file"), "kind": entry.get("kind"),
                                "lines": entry.get("lines"), "status": "ERROR", "error": f"{type(exc).__name__}: {exc}"})
    tot = totals(results)
    if args.json:
        print(json.dumps({"leaklint": args.leaklint, "totals": tot, "results": results}, indent=1))
        return
    print(table(results))
    print()
    print(f"caught-before: {tot['caught']}/{tot['measured']} ({tot['caught_pct']}%)")
    print(f"false-after:   {tot['false_after']} findings on the fixed code "
          f"({tot['false_after_per_10']} per 10 fixes)")
    print("by kind:       " + (", ".join(f"{k} {v['caught']}/{v['of']}" for k, v in tot["by_kind"].items()) or "-"))
    if tot["skipped"]:
        print("skipped (no mirror, fetch them): " + ", ".join(tot["skipped"]))
    for e in tot["errors"]:
        print("error: " + e)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("fixes.py: interrupted", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - always exit 0
        print(f"fixes.py: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(0)
