#!/usr/bin/env python3
"""The call graph between the agent's C files, from their object files.

A file calls another when its object file leaves undefined a symbol that
the other defines (a function called, or taken as a callback; a variable
read). Prints each file's callees, then every circle of more than two
files (the issue 11 measure); exits 1 if there is one.

usage: callgraph.py [-n NM] [-q | -v] OBJECT...   (e.g. build/agent/*.o)
"""

import os
import subprocess
import sys


def symbols(nm, obj):
    """(defined, undefined) global symbols of one object file."""
    out = subprocess.run([nm, "-g", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            undefined.add(f[1])
        elif len(f) == 3 and f[1] not in ("U", "w", "v"):
            defined.add(f[2])
    return defined, undefined


def circles(graph):
    """Elementary circles of more than two nodes, each once, smallest
    node first (every circle through the lowest node before the next)."""
    nodes = sorted(graph)
    found = []
    for i, start in enumerate(nodes):
        allowed = set(nodes[i:])
        path = [start]
        onpath = {start}

        def walk(v):
            for w in sorted(graph[v]):
                if w == start and len(path) > 2:
                    found.append(list(path))
                elif w in allowed and w not in onpath:
                    path.append(w)
                    onpath.add(w)
                    walk(w)
                    onpath.remove(w)
                    path.pop()
        walk(start)
    return found


def main(argv):
    nm = os.environ.get("NM") or "nm"
    quiet = verbose = False
    args = []
    it = iter(argv)
    for a in it:
        if a == "-n":
            nm = next(it)
        elif a == "-q":
            quiet = True
        elif a == "-v":
            verbose = True
        else:
            args.append(a)
    if not args:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    defs, undefs = {}, {}
    for obj in args:
        name = os.path.splitext(os.path.basename(obj))[0] + ".c"
        defs[name], undefs[name] = symbols(nm, obj)
    owner = {}
    for name, syms in defs.items():
        for s in syms:
            owner[s] = name
    graph = {name: set() for name in defs}
    why = {}
    for name, syms in undefs.items():
        for s in syms:
            o = owner.get(s)
            if o is not None and o != name:
                graph[name].add(o)
                why.setdefault((name, o), []).append(s)
    if not quiet:
        for name in sorted(graph):
            print("%-14s -> %s" % (name, " ".join(sorted(graph[name]))
                                   or "-"))
            if verbose:
                for o in sorted(graph[name]):
                    print("    %-12s %s" % (o, " ".join(
                        sorted(why[(name, o)]))))
        pairs = sorted((a, b) for a in graph for b in graph[a]
                       if a < b and a in graph[b])
        print("mutual pairs: %d%s" % (len(pairs), "".join(
            "\n  %s <-> %s" % p for p in pairs)))
    found = circles(graph)
    print("circles of more than two files: %d" % len(found))
    for c in found[:50]:
        print("  " + " -> ".join(c + [c[0]]))
    if len(found) > 50:
        print("  ... %d more" % (len(found) - 50))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
