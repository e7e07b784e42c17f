"""Reading the package's imports, for tests/test_layout.py: the import graph of toyclf, its cycles,
and the lines of code of a file.

Every module under toyclf/ is parsed with ``ast`` (imports inside functions included) and each
import of a toyclf module becomes an edge. ``from toyclf.x import y`` counts as an import of
``toyclf.x.y`` when that is a module and of ``toyclf.x`` otherwise; importing a subpackage counts
its ``__init__``. Importing ``toyclf.a.b`` also runs ``toyclf/a/__init__.py``, so that package is
an edge too (except from modules inside it, which Python loads after their package).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "toyclf"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = find_modules()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(name: str) -> str | None:
    """The longest prefix of the dotted name that is a toyclf module (None outside toyclf)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def imports_of(name: str) -> list[tuple[str, int, bool]]:
    """(imported toyclf module, line, written as an import of the top-level package) for every
    import statement in the module, inside functions too."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(alias.name)
                if target is not None:
                    found.append((target, node.lineno, alias.name == "toyclf"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import: make it absolute
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if resolve(source) is None:
                continue
            for alias in node.names:
                target = resolve(f"{source}.{alias.name}") or resolve(source)
                found.append((target, node.lineno, source == "toyclf"))
    return found


def ancestors(name: str) -> list[str]:
    """The subpackages whose __init__ runs before the module: toyclf.a.b.c -> [toyclf.a, toyclf.a.b]."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {imported module: why}, without self-imports."""
    graph: dict[str, dict[str, str]] = {}
    for name in MODULES:
        edges: dict[str, str] = {}
        own = {name, *ancestors(name)}
        for target, line, _ in imports_of(name):
            where = f"{MODULES[name].relative_to(PACKAGE.parent)}:{line}"
            edges.setdefault(target, where)
            for package in ancestors(target):
                if package not in own:
                    edges.setdefault(package, f"{where}, the package of {target}")
        edges.pop(name, None)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle from each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        # breadth-first search for the shortest way from start back to start inside the component
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in previous:
            following = []
            for node in frontier:
                for nxt in sorted(graph[node]):
                    if nxt in members and nxt not in previous:
                        previous[nxt] = node
                        following.append(nxt)
            frontier = following
        path = [start]
        node = previous[start]
        while node != start:
            path.append(node)
            node = previous[node]
        path.append(start)
        cycles.append(path[::-1])
    return cycles


def describe(path: list[str], graph: dict[str, dict[str, str]]) -> str:
    steps = [f"{a} -> {b} ({graph[a][b]})" for a, b in itertools.pairwise(path)]
    return "\n    ".join(steps)


def third_party_imports(name: str) -> list[tuple[str, int]]:
    """(top-level package, line) of every import of a package outside toyclf, inside functions too."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def code_lines(source: str) -> int:
    """Lines of code: not blank, not only a comment, not inside a docstring (of the module, a class
    or a function). Explanations never count against a file's length."""
    docstring_lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstring_lines.update(range(first.lineno, first.end_lineno + 1))
    return sum(
        1
        for number, line in enumerate(source.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#") and number not in docstring_lines
    )
