#!/usr/bin/env python3
"""Namespace dependencies of the FFLib library (src/FFLib): which namespace's files name which
other namespace (a `using FFLib.X;`, or a qualified `X.Type` / `FFLib.X.Type`), and the cycles
among them. Prints the edge list (with a file that makes each edge) and every cycle found as a
strongly connected component. Text analysis: good for counting, not a compiler.
Usage: scripts/namespace-deps.py [src/FFLib]"""
import os, re, sys
from collections import defaultdict

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src", "FFLib")
files = []
for d, _, fs in os.walk(root):
    if "/bin" in d or "/obj" in d:
        continue
    files += [os.path.join(d, f) for f in fs if f.endswith(".cs")]

ns_of, text_of = {}, {}
for f in files:
    t = open(f, encoding="utf-8").read()
    m = re.search(r"^namespace\s+FFLib\.?([\w.]*)\s*;", t, re.M)
    if not m:
        continue
    ns_of[f] = (m.group(1) or "(root)").split(".")[0]
    text_of[f] = re.sub(r"//[^\n]*", "", t)  # comments (and /// docs) do not make a dependency
names = sorted(set(ns_of.values()) - {"(root)"})
# The types each namespace declares: a qualified name counts only when it names one of them
# (`Data.Length` on a property called Data is not the Data namespace).
types = defaultdict(set)
for f, ns in ns_of.items():
    types[ns] |= set(re.findall(r"\b(?:class|record|struct|interface|enum)\s+(?:struct\s+)?([A-Z]\w*)", text_of[f]))
edges = defaultdict(set)
for f, ns in ns_of.items():
    t = text_of[f]
    for other in names:
        if other == ns:
            continue
        qualified = any(re.search(rf"(?<![\w.])(?:FFLib\.)?{other}\.{ty}\b", t) for ty in types[other])
        if re.search(rf"^using\s+FFLib\.{other}\b", t, re.M) or qualified:
            edges[(ns, other)].add(os.path.relpath(f, root))

graph = defaultdict(set)
for (a, b) in edges:
    graph[a].add(b)

# Tarjan's strongly connected components
index, low, stack, on, sccs = {}, {}, [], set(), []
def visit(v, counter=[0]):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in sorted(graph[v]):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        sccs.append(sorted(comp))
for v in sorted(set(ns_of.values())):
    if v not in index:
        visit(v)

print(f"{len(edges)} dependencies among {len(names)} namespaces of FFLib:")
for (a, b) in sorted(edges):
    example = sorted(edges[(a, b)])
    print(f"  {a} -> {b}   ({len(example)} file(s), e.g. {example[0]})")
two_way = sorted((a, b) for (a, b) in edges if a < b and (b, a) in edges)
print(f"{len(two_way)} two-way pair(s): " + (", ".join(f"{a}<->{b}" for a, b in two_way) or "none"))
cyclic = [c for c in sccs if len(c) > 1]
print(f"{len(cyclic)} group(s) of namespaces that depend on each other in a cycle: " + ("; ".join(" ".join(c) for c in cyclic) or "none"))
