#!/usr/bin/env python3
"""Prints a 16-hex-digit SHA-256 of a safetensors file's tensors (names, dtypes, shapes and bytes,
in name order), ignoring its metadata: two models with this hash have bit-identical parameters.
Usage: scripts/tensor-hash.py model.safetensors [...]"""
import hashlib, json, struct, sys

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    h = hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        t = header[name]
        a, b = t["data_offsets"]
        h.update(f"{name}|{t['dtype']}|{t['shape']}|".encode())
        h.update(body[a:b])
    print(h.hexdigest()[:16], path)
