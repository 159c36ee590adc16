"""The package's import graph: layers import downward only, and no module imports another that (through any chain)
imports it back, counting imports inside functions (an import moved into a function still ties the two modules).
Imports under `if TYPE_CHECKING:` are annotations only and are not counted."""
from __future__ import annotations

import ast
from pathlib import Path

import loopgen

ROOT = Path(loopgen.__file__).parent
LAYERS = ["models", "streaming", "protocol", "server", "clients"]  # each may import only those before it ...
ALLOWED = {  # ... except where the layout says otherwise
    "models": set(), "streaming": {"models"}, "protocol": set(), "server": {"models", "streaming", "protocol"},
    "clients": {"protocol"},
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules `path` imports, anywhere in it (functions included, TYPE_CHECKING blocks excluded)."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for n in node.orelse:
                visit(n)
            return
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            names = []
        for n in names:
            while n and n not in modules:  # the deepest package module the name is in
                n = n.rsplit(".", 1)[0] if "." in n else ""
            if n and n != me and n.startswith("loopgen"):
                out.add(n)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return out


def graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in ROOT.rglob("*.py")}
    return {m: imports(p, set(files)) for m, p in files.items()}


def _is_package_init(m: str, target: str) -> bool:
    return target.startswith(m + ".")  # a package's __init__ re-exporting its own modules is not a circle


def test_no_import_circles():
    g = graph()
    circles = []
    for start in g:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in g[node]:
                if _is_package_init(node, nxt) or _is_package_init(nxt, node):
                    continue
                if nxt == start:
                    circles.append(" -> ".join(path + [start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    assert not circles, "import circles:\n" + "\n".join(sorted(set(circles)))


def test_layers_import_downward_only():
    wrong = []
    for m, targets in graph().items():
        parts = m.split(".")
        if len(parts) < 3 or parts[1] not in ALLOWED:
            continue
        for t in targets:
            tp = t.split(".")
            if len(tp) >= 2 and tp[1] in ALLOWED and tp[1] != parts[1] and tp[1] not in ALLOWED[parts[1]]:
                wrong.append(f"{m} imports {t}")
    assert not wrong, "\n".join(sorted(wrong))
