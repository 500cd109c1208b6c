#!/usr/bin/env python3
"""Module import graph of the compiler crate, and its cycles.

Reads `use crate::a::b` (and `crate::a::...` paths) in compiler/src, maps
each file to its top-level module (compiler/src/codegen/jit.rs -> codegen),
and prints the edges between top-level modules and any cycle among them.
Exits 1 if there is a cycle. Usage: scripts/import_graph.py [--edges]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "compiler" / "src"
TOP = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()} - {"lib"}
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0][:-3] if len(rel) == 1 else rel[0]


def main() -> int:
    edges: dict[str, set[str]] = {m: set() for m in TOP}
    for f in ROOT.rglob("*.rs"):
        src = module_of(f)
        if src == "lib":
            continue
        text = f.read_text()
        # Test modules may reach anywhere; they are not part of the layering.
        text = text.split("#[cfg(test)]")[0]
        # Comments may name any module.
        text = "\n".join(line.split("//")[0] for line in text.splitlines())
        for m in PATH.findall(text):
            if m in TOP and m != src:
                edges[src].add(m)
    if "--edges" in sys.argv:
        for m in sorted(edges):
            print(f"{m:10} -> {', '.join(sorted(edges[m])) or '-'}")
    # Cycles: strongly connected components with more than one module.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in sccs:
        print("cycle:", " <-> ".join(comp))
    if not sccs:
        print("no cycles among", len(edges), "top-level modules")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
