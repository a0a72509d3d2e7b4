#!/usr/bin/env python3
"""Reads the GPU check's output and the same run's PyTorch baseline and prints issue #13's targets
as a table: each figure as measured, its target, and whether it was met. Only figures found in the
two outputs are judged; a part that did not run is listed as "not run" (nothing is estimated).

usage: targets.py CHECK_OUTPUT TORCH_OUTPUT
"""
import re
import statistics
import sys


def floats(text):
    return [float(v) for v in re.findall(r"([0-9]+\.[0-9]+) s", text)]


def find(pattern, text):
    m = re.search(pattern, text, re.MULTILINE)
    return m


def main(check_path, torch_path):
    check = open(check_path, encoding="utf-8", errors="replace").read()
    try:
        torch = open(torch_path, encoding="utf-8", errors="replace").read()
    except OSError:
        torch = ""
    rows = []

    def judge(what, value, target, ok, note=""):
        verdict = "not run" if value is None else ("met" if ok else "MISSED")
        rows.append((what, "–" if value is None else value, target, verdict, note))

    # FFNN epoch: the check's timed epochs (after a warm-up) against PyTorch's on the same GPU.
    m = find(r"^FFNN \S+ epoch \([0-9]+ images, batch 128\): (.*)$", check)
    t = find(r"^torch FFNN \S+ epoch [^:]*: (.*)$", torch)
    ours = statistics.median(floats(m.group(1))) if m else None
    theirs = statistics.median(floats(t.group(1))) if t else None
    judge("FFNN 2×2000 epoch (median)", None if ours is None else f"{ours:.3f} s", "≤ 0.25 s", ours is not None and ours <= 0.25)
    if ours is not None and theirs is not None:
        judge("FFNN epoch vs PyTorch, same GPU", f"{theirs / ours:.2f}× faster ({theirs:.3f} s)", "≥ 2×", theirs / ours >= 2)
    else:
        judge("FFNN epoch vs PyTorch, same GPU", None, "≥ 2×", False, "PyTorch output missing" if ours is not None else "")

    m = find(r"^predict [0-9]+ test images: ([0-9.]+) s, again ([0-9.]+) s", check)
    judge("FFNN predict 10,000 (second call)", m and f"{float(m.group(2)):.3f} s (first {float(m.group(1)):.3f} s)", "≤ 0.05 s", bool(m) and float(m.group(2)) <= 0.05)

    m = find(r"^paper FFNN: ([0-9]+) epochs in ([0-9.]+) s .*test accuracy ([0-9.]+) ?%", check)
    if m:
        seconds, acc = float(m.group(2)), float(m.group(3))
        judge(f"paper FFNN, {m.group(1)} epochs", f"{seconds:.1f} s, {acc:.2f} %", "≤ 30 s, 98.0–98.3 %", seconds <= 30 and 98.0 <= acc <= 98.3)
    else:
        judge("paper FFNN, 60 epochs", None, "≤ 30 s, 98.0–98.3 %", False)

    m = find(r"^BPNN \S+ epoch \([0-9]+ images\): ([0-9.]+) s", check)
    judge("BPNN epoch", m and f"{float(m.group(1)):.3f} s", "≤ 0.25 s", bool(m) and float(m.group(1)) <= 0.25)

    m = find(r"^FFNN\+C phases: ForwardForward ([0-9.]+) s, Classifier ([0-9.]+) s", check)
    judge("FFNN+C FF epoch", m and f"{float(m.group(1)):.3f} s", "≤ 0.25 s", bool(m) and float(m.group(1)) <= 0.25)
    judge("FFNN+C classifier epoch", m and f"{float(m.group(2)):.3f} s", "≤ 0.25 s", bool(m) and float(m.group(2)) <= 0.25)

    m = find(r"^FFRNN \S+ epoch \([0-9]+ images\): ([0-9.]+) s", check)
    judge("FFRNN epoch", m and f"{float(m.group(1)):.2f} s", "≤ 5 s", bool(m) and float(m.group(1)) <= 5)
    m = find(r"^FFRNN: predict [0-9]+ test images ([0-9.]+) s", check)
    judge("FFRNN predict 10,000", m and f"{float(m.group(1)):.2f} s", "≤ 1 s", bool(m) and float(m.group(1)) <= 1)

    # Several runs at once: the check's own runs-per-hour (its 3-epoch runs scaled to 60 epochs, as it says).
    m = find(r"^streams: .*one stream ([0-9.]+) s, four streams ([0-9.]+) s \(([0-9.]+)× the throughput\); ([0-9]+) vs ([0-9]+) runs per hour", check)
    if m and theirs is not None:
        four = float(m.group(5))
        torch_per_hour = 3600 / (60 * theirs)  # PyTorch training the same runs one after another (training time only)
        judge("runs per hour, four streams vs PyTorch one after another", f"{four:.0f} vs {torch_per_hour:.0f} ({four / torch_per_hour:.1f}×)", "≥ 10×", four / torch_per_hour >= 10,
              "both scaled from the measured epochs to 60-epoch runs")
    else:
        judge("runs per hour, four streams vs PyTorch one after another", None, "≥ 10×", False)

    width = [max(len(str(r[i])) for r in rows + [("figure", "measured", "target", "verdict", "")]) for i in range(4)]
    header = ("figure", "measured", "target", "verdict")
    print("  ".join(h.ljust(w) for h, w in zip(header, width)).rstrip())
    for r in rows:
        print(("  ".join(str(v).ljust(w) for v, w in zip(r[:4], width)) + (f"  ({r[4]})" if r[4] else "")).rstrip())
    met = sum(r[3] == "met" for r in rows)
    missed = sum(r[3] == "MISSED" for r in rows)
    print(f"targets: {met} met, {missed} missed, {len(rows) - met - missed} not run")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
