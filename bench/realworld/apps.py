#!/usr/bin/env python3
"""Measures leaklint's precision on real applications (bench/realworld/apps.toml).

    bench/realworld/apps.py [--trees /tmp/apps] [--leaklint PATH]
                            [--apps apps.toml] [--judgments judgments.toml]
                            [--only SUBSTRING]... [--timeout SECONDS]
                            [--json FILE] [--stubs FILE] [--quiet]

Each [[app]] of apps.toml is expected as an exported tree under
TREES/owner+name (see apps.toml for how to export it). leaklint checks each
tree from its root, one tree at a time:

    leaklint check --select ALL --format json --exit-zero --no-cache .

and every finding is looked up in judgments.toml, keyed by
(repo, path, code, row, column), where each [[judgment]] carries
verdict = "true" | "false" | "debatable" and a one-line reason.

Printed per app and overall: findings, judged true / false / debatable,
unjudged, and precision = true / (true + false). Unjudged findings are listed
(--stubs FILE also writes them as [[judgment]] stubs to fill in), and so are
stale judgments (judged findings the current build no longer reports).

Python 3.11+, standard library only. Exits 0 unless an app could not be run.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERDICTS = ("true", "false", "debatable")


def default_leaklint():
    for cand in ("/tmp/ll-bin/leaklint", os.path.join(ROOT, "target", "release", "leaklint")):
        if os.access(cand, os.X_OK):
            return cand
    return "leaklint"


def load_toml(path, table):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return tomllib.load(f).get(table, [])


def tree_dir(trees, repo):
    return os.path.join(trees, repo.replace("/", "+"))


def run_leaklint(leaklint, tree, timeout):
    cmd = [leaklint, "check", "--select", "ALL", "--format", "json", "--exit-zero", "--no-cache", "."]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[:500]}")
    return json.loads(proc.stdout or "[]"), elapsed


def key_of(repo, path, code, row, column):
    return (repo, path.replace(os.sep, "/").removeprefix("./"), code, int(row), int(column))


def precision(t, f):
    return f"{100.0 * t / (t + f):.1f}%" if t + f else "-"


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trees", default="/tmp/apps")
    ap.add_argument("--leaklint", default=default_leaklint())
    ap.add_argument("--apps", default=os.path.join(HERE, "apps.toml"))
    ap.add_argument("--judgments", default=os.path.join(HERE, "judgments.toml"))
    ap.add_argument("--only", action="append", default=[], help="only apps whose repo contains this")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", help="also write every finding with its verdict to this file")
    ap.add_argument("--stubs", help="write [[judgment]] stubs for unjudged findings to this file")
    ap.add_argument("--quiet", action="store_true", help="do not list unjudged findings")
    args = ap.parse_args()

    apps = load_toml(args.apps, "app")
    if args.only:
        apps = [a for a in apps if any(s.lower() in a["repo"].lower() for s in args.only)]

    judgments = {}
    for j in load_toml(args.judgments, "judgment"):
        k = key_of(j["repo"], j["path"], j["code"], j["row"], j["column"])
        if j.get("verdict") not in VERDICTS:
            print(f"warning: judgment {k} has verdict {j.get('verdict')!r}", file=sys.stderr)
        if k in judgments:
            print(f"warning: duplicate judgment {k}", file=sys.stderr)
        judgments[k] = j

    # Each tree is checked from its own root: a relative path would not resolve there.
    if os.sep in args.leaklint:
        args.leaklint = os.path.abspath(args.leaklint)
    print(f"leaklint: {args.leaklint}")
    version = subprocess.run([args.leaklint, "--version"], capture_output=True, text=True).stdout.strip()
    if version:
        print(f"version:  {version}")
    print()

    rows, unjudged, records, errors = [], [], [], 0
    seen = set()
    total = dict(findings=0, true=0, false=0, debatable=0, unjudged=0)
    for app in apps:
        repo = app["repo"]
        tree = tree_dir(args.trees, repo)
        if not os.path.isdir(tree):
            rows.append((repo, None, "MISSING TREE"))
            errors += 1
            continue
        try:
            findings, elapsed = run_leaklint(args.leaklint, tree, args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            rows.append((repo, None, f"ERROR {e}"))
            errors += 1
            continue
        c = dict(findings=len(findings), true=0, false=0, debatable=0, unjudged=0)
        for f in findings:
            k = key_of(repo, f["filename"], f["code"], f["location"]["row"], f["location"]["column"])
            seen.add(k)
            j = judgments.get(k)
            verdict = j.get("verdict") if j else None
            if verdict in VERDICTS:
                c[verdict] += 1
            else:
                c["unjudged"] += 1
                unjudged.append((k, f))
            records.append(dict(repo=repo, path=k[1], code=k[2], row=k[3], column=k[4],
                                message=f["message"], verdict=verdict,
                                reason=j.get("reason") if j else None))
        for n in total:
            total[n] += c[n]
        rows.append((repo, c, f"{elapsed:.1f}s"))

    w = max([len(r[0]) for r in rows] + [7])
    head = f"{'app':<{w}}  {'findings':>8} {'true':>5} {'false':>5} {'debat':>5} {'unjudg':>6} {'precision':>9}  time"
    print(head)
    print("-" * len(head))
    for repo, c, note in rows:
        if c is None:
            print(f"{repo:<{w}}  {note}")
            continue
        print(f"{repo:<{w}}  {c['findings']:>8} {c['true']:>5} {c['false']:>5} {c['debatable']:>5} "
              f"{c['unjudged']:>6} {precision(c['true'], c['false']):>9}  {note}")
    print("-" * len(head))
    t = total
    print(f"{'overall':<{w}}  {t['findings']:>8} {t['true']:>5} {t['false']:>5} {t['debatable']:>5} "
          f"{t['unjudged']:>6} {precision(t['true'], t['false']):>9}")
    if t["true"] + t["false"] + t["debatable"]:
        print(f"{'':<{w}}  precision counting debatable as false: "
              f"{precision(t['true'], t['false'] + t['debatable'])}")

    # Per rule.
    per_rule = {}
    for r in records:
        d = per_rule.setdefault(r["code"], dict(findings=0, true=0, false=0, debatable=0, unjudged=0))
        d["findings"] += 1
        d[r["verdict"] if r["verdict"] in VERDICTS else "unjudged"] += 1
    if per_rule:
        print()
        print(f"{'rule':<6}  {'findings':>8} {'true':>5} {'false':>5} {'debat':>5} {'unjudg':>6} {'precision':>9}")
        for code in sorted(per_rule):
            d = per_rule[code]
            print(f"{code:<6}  {d['findings']:>8} {d['true']:>5} {d['false']:>5} {d['debatable']:>5} "
                  f"{d['unjudged']:>6} {precision(d['true'], d['false']):>9}")

    if unjudged and not args.quiet:
        print(f"\nunjudged findings ({len(unjudged)}):")
        for k, f in unjudged:
            print(f"  {k[0]}  {k[1]}:{k[3]}:{k[4]}  {k[2]}  {f['message']}")

    ran = {a["repo"] for a in apps}
    stale = [k for k in judgments if k[0] in ran and k not in seen]
    if stale:
        print(f"\nstale judgments (no longer reported) ({len(stale)}):")
        for k in sorted(stale):
            print(f"  {k[0]}  {k[1]}:{k[3]}:{k[4]}  {k[2]}  [{judgments[k].get('verdict')}]")

    if args.stubs:
        with open(args.stubs, "w") as out:
            for k, f in unjudged:
                out.write("[[judgment]]\n")
                out.write(f"repo = {toml_str(k[0])}\npath = {toml_str(k[1])}\ncode = {toml_str(k[2])}\n")
                out.write(f"row = {k[3]}\ncolumn = {k[4]}\n")
                out.write(f"message = {toml_str(f['message'])}\nverdict = \"\"\nreason = \"\"\n\n")
        print(f"\nwrote {len(unjudged)} stubs to {args.stubs}")

    if args.json:
        with open(args.json, "w") as out:
            json.dump(dict(apps=[dict(repo=r, counts=c, note=n) for r, c, n in rows],
                           overall=total, findings=records), out, indent=1)

    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
