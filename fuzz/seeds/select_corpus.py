#!/usr/bin/env python3
"""Keeps corpus/<target>/ small: the hand-made seeds plus the inputs from corpus-work/<target>/
that add the most coverage features, greedily, up to --max files in all.

    python3 seeds/select_corpus.py <target> [--max 50]   (from fuzz/, after `cargo fuzz cmin`)

Feature sets come from libFuzzer's own merge control file (-merge=1), so "coverage" here is
exactly what libFuzzer counts as `ft`.
"""
import argparse, hashlib, pathlib, shutil, subprocess, tempfile

FUZZ = pathlib.Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("target")
ap.add_argument("--max", type=int, default=50)
args = ap.parse_args()

binary = FUZZ / "target" / "x86_64-unknown-linux-gnu" / "release" / args.target
seeds = FUZZ / "corpus" / args.target
work = FUZZ / "corpus-work" / args.target
with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    (tmp / "out").mkdir()
    control = tmp / "control"
    subprocess.run([str(binary), "-merge=1", f"-merge_control_file={control}",
                    str(tmp / "out"), str(seeds), str(work)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = control.read_text().splitlines()
    n = int(lines[0])
    paths = [pathlib.Path(p) for p in lines[2:2 + n]]
    features = {}
    for line in lines[2 + n:]:
        parts = line.split()
        if parts and parts[0] == "FT":
            features[int(parts[1])] = set(map(int, parts[2:]))

chosen, covered = [], set()
for i, p in enumerate(paths):
    if p.parent == seeds:
        chosen.append(i)
        covered |= features.get(i, set())
candidates = [i for i, p in enumerate(paths) if p.parent == work]
while len(chosen) < args.max:
    best = max(candidates, key=lambda i: (len(features.get(i, set()) - covered), -paths[i].stat().st_size), default=None)
    if best is None or not features.get(best, set()) - covered:
        break
    chosen.append(best)
    covered |= features[best]
    candidates.remove(best)

total = set().union(*features.values()) if features else set()
keep = [paths[i] for i in chosen if paths[i].parent == work]
for p in keep:
    data = p.read_bytes()
    shutil.copy(p, seeds / f"seed-{hashlib.sha1(data).hexdigest()}")
print(f"{args.target}: {len(chosen)} files ({len(chosen) - len(keep)} seeds + {len(keep)} found) "
      f"cover {len(covered)} of {len(total)} features")
