#!/usr/bin/env python3
"""Import cycles (run time / typing-only) and the largest functions of the bark-omni tree, read with ast.

usage: python structure.py REPO cycles|funcs [--packages]
"""
import ast
import sys
from pathlib import Path

ROOTS = ["bark_omni", "checkpoints_compat", "adapters", "plugins", "eval", "examples"]


def source_files(repo):
    for root in ROOTS:
        for path in sorted((repo / root).rglob("*.py")):
            rel = path.relative_to(repo)
            if any(p in ("tests", ".venv", "build") or p.endswith(".egg-info") for p in rel.parts) or path.name.startswith("test_") or path.name == "conftest.py":
                continue
            yield path


def module_name(path):
    parts = list(path.with_suffix("").parts)
    # the package dir is the outermost folder that holds __init__.py
    i = len(parts) - 1
    while i > 0 and (path.parents[len(parts) - 1 - i] / "__init__.py").exists():
        i -= 1
    mod = parts[i + 1:] if (Path(*parts[: i + 1]) / "__init__.py").exists() is False else parts[i:]
    if mod[-1] == "__init__":
        mod = mod[:-1]
    return ".".join(mod)


def imports(path, modname, known):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out = []

    def resolve(node):
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            pkg = modname.split(".") if is_pkg else modname.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join(pkg + ([base] if base else []))
        names = []
        for a in node.names:
            sub = f"{base}.{a.name}"
            names.append(sub if sub in known else base)
        return names

    def visit(node, kind):
        for child in ast.iter_child_nodes(node):
            k = kind
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for c in child.body:
                    visit_one(c, "typing")
                for c in child.orelse:
                    visit_one(c, kind)
                continue
            visit_one(child, k)

    def visit_one(child, kind):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            for target in resolve(child):
                out.append((target, kind, child.lineno))
            return
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and kind == "top":
            visit(child, "lazy")
            return
        visit(child, kind)

    visit(tree, "top")
    return out


def graph(repo):
    files = list(source_files(repo))
    mods = {}
    for f in files:
        mods[module_name(f.relative_to(repo) if False else f)] = f
    # recompute names relative to their package roots
    mods = {}
    for f in files:
        parts = list(f.relative_to(repo).with_suffix("").parts)
        j = 0
        while j < len(parts) - 1 and not (repo.joinpath(*parts[: j + 1]) / "__init__.py").exists():
            j += 1
        mod = parts[j:]
        if mod[-1] == "__init__":
            mod = mod[:-1]
        mods[".".join(mod)] = f
    known = set(mods)
    edges = {}
    for m, f in mods.items():
        for target, kind, line in imports(f, m, known):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != m:
                edges.setdefault(m, []).append((target, kind, line))
    return mods, edges


def sccs(nodes, adj):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in adj.get(v, ()):
            if w not in index:
                strong(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return out


def report_cycles(repo):
    mods, edges = graph(repo)
    top = lambda m: m.split(".")[0]
    for label, kinds in (("run time (module-level + imports inside functions)", {"top", "lazy"}),
                         ("run time + typing (TYPE_CHECKING imports included)", {"top", "lazy", "typing"})):
        for level, name in (("module", lambda m: m), ("package", top)):
            adj = {}
            for m, es in edges.items():
                for t, kind, _ in es:
                    if kind in kinds and name(m) != name(t):
                        adj.setdefault(name(m), set()).add(name(t))
            comps = sccs({name(m) for m in mods}, adj)
            print(f"== {label}, {level} level: {len(comps)} cycle(s)")
            for comp in comps:
                print("  cycle:", " <-> ".join(comp))
                members = set(comp)
                for m, es in sorted(edges.items()):
                    for t, kind, line in sorted(set(es), key=lambda e: e[2]):
                        if kind in kinds and name(m) in members and name(t) in members and name(m) != name(t):
                            print(f"    {mods[m].relative_to(repo)}:{line} {m} -> {t} ({kind})")


def report_funcs(repo, n=10):
    rows = []
    for f in source_files(repo):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                rows.append((node.end_lineno - node.lineno + 1, f"{f.relative_to(repo)}:{node.lineno}", node.name))
    for size, where, name in sorted(rows, reverse=True)[:n]:
        print(f"{size:4d} lines  {name:<32} {where}")


if __name__ == "__main__":
    repo = Path(sys.argv[1]).resolve()
    {"cycles": report_cycles, "funcs": report_funcs}[sys.argv[2]](repo)
