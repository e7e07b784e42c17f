"""The package's layout: layers that import one way, no import cycles, short files.

Every module under toyclf/ is parsed with ``ast`` (imports inside functions included) and each
import of a toyclf module becomes an edge. ``from toyclf.x import y`` counts as an import of
``toyclf.x.y`` when that is a module and of ``toyclf.x`` otherwise; importing a subpackage counts
its ``__init__``. Importing ``toyclf.a.b`` also runs ``toyclf/a/__init__.py``, so that package is
an edge too (except from modules inside it, which Python loads after their package).
"""

from __future__ import annotations

import ast
import itertools
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "toyclf"
MAX_LINES = 300

LAYER_NAMES = ["helpers", "data", "models", "method", "classifier", "lecture", "commands", "package"]

# Bottom layer first. A module may import modules of its own layer or below, never above.
LAYERS: dict[str, int] = {
    # 0 helpers: nothing here knows about diffusion
    "toyclf.utils": 0,
    "toyclf.utils.validation": 0,
    "toyclf.utils.device": 0,
    "toyclf.utils.files": 0,
    "toyclf.utils.checkpoint": 0,
    "toyclf.utils.results_file": 0,
    "toyclf.utils.threads": 0,
    # 1 data: the data sets, the noising paths and what a network predicts on them, feature scaling
    "toyclf.data": 1,
    "toyclf.schedule": 1,
    "toyclf.scaling": 1,
    "toyclf.prediction": 1,
    # 2 models: the shared (t, eps) plan and every denoiser
    "toyclf.plan": 2,
    "toyclf.denoisers": 2,
    "toyclf.denoisers.base": 2,
    "toyclf.denoisers.mlp": 2,
    "toyclf.denoisers.oracle": 2,
    "toyclf.denoisers.latent": 2,
    "toyclf.denoisers.stable_diffusion": 2,
    "toyclf.denoisers.stable_diffusion_xl": 2,
    "toyclf.denoisers.stable_diffusion_3": 2,
    "toyclf.denoisers.dit": 2,
    "toyclf.denoisers.pretrained": 2,
    "toyclf.denoisers.images": 2,
    "toyclf.denoisers.speed": 2,
    "toyclf.denoisers.random_pipelines": 2,
    "toyclf.denoisers.tiny": 2,
    # 3 method: the estimator (Algorithm 1), pruning (Algorithm 2), calibration, training, sampling
    "toyclf.weighting": 3,
    "toyclf.estimator": 3,
    "toyclf.pruning": 3,
    "toyclf.calibration": 3,
    "toyclf.training": 3,
    "toyclf.sampling": 3,
    # 4 classifier: the scikit-learn estimator and its files
    "toyclf.saving": 4,
    "toyclf.image_classification": 4,
    "toyclf.image_results": 4,
    "toyclf.classifier": 4,
    # 5 lecture: what the notebooks and figures measure, and the figures
    "toyclf.mapping": 5,
    "toyclf.experiments": 5,
    "toyclf.experiments.ablations": 5,
    "toyclf.experiments.comparison": 5,
    "toyclf.experiments.robustness": 5,
    "toyclf.experiments.suite": 5,
    "toyclf.plots": 5,
    "toyclf.plots.keys": 5,
    "toyclf.plots.maps": 5,
    "toyclf.plots.ablations": 5,
    "toyclf.plots.digits": 5,
    "toyclf.plots.animations": 5,
    # 6 commands: python -m toyclf.NAME
    "toyclf.cli": 6,
    "toyclf.spirals": 6,
    "toyclf.digits": 6,
    "toyclf.zeroshot": 6,
    "toyclf.inside": 6,
    "toyclf.animate": 6,
    # 7 the top-level package re-exports from everywhere
    "toyclf": 7,
}


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


def test_every_module_has_a_layer():
    missing = sorted(set(MODULES) - set(LAYERS))
    assert not missing, (
        "modules missing from the layer table in tests/test_layout.py (place each new module in a layer): "
        + ", ".join(missing)
    )


def test_no_import_cycles():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n  " + "\n  ".join(describe(cycle, graph) for cycle in cycles)


def test_imports_go_down_the_layers():
    graph = import_graph()
    upward = []
    for name, edges in sorted(graph.items()):
        for target, where in sorted(edges.items()):
            if name in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[name]:
                upward.append(
                    f"{name} (layer {LAYERS[name]}, {LAYER_NAMES[LAYERS[name]]}) imports "
                    f"{target} (layer {LAYERS[target]}, {LAYER_NAMES[LAYERS[target]]}) at {where}"
                )
    assert not upward, "imports from a higher layer:\n  " + "\n  ".join(upward)


def test_no_module_imports_the_top_level_package():
    offenders = [
        f"{name} ({MODULES[name].relative_to(PACKAGE.parent)}:{line})"
        for name in sorted(MODULES)
        if name != "toyclf"
        for _, line, top_level in imports_of(name)
        if top_level
    ]
    assert not offenders, (
        "`from toyclf import ...` or `import toyclf` inside the package (import from the module "
        "that defines the name): " + ", ".join(offenders)
    )


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


def test_files_are_short():
    long_files = {}
    for path in MODULES.values():
        n_lines = code_lines(path.read_text(encoding="utf-8"))
        if n_lines > MAX_LINES:
            long_files[str(path.relative_to(PACKAGE.parent))] = n_lines
    assert not long_files, (
        f"files of more than {MAX_LINES} lines of code (a file that long holds two ideas): "
        + ", ".join(f"{path} ({n} lines)" for path, n in sorted(long_files.items()))
    )


def test_code_lines_leave_out_docstrings_comments_and_blank_lines():
    source = '''
        """Module docstring,
        on two lines."""

        # a comment
        def f(x):
            """One line."""
            return x  # counted


        class A:
            """Class docstring."""

            y = 1
    '''
    assert code_lines(textwrap.dedent(source)) == 4  # def f, return, class A, y = 1


def test_the_layout_check_sees_imports():
    """The graph is not trivially empty: the classifier imports the estimator, and an import
    inside a function (pretrained.py loads the backends lazily) is seen."""
    graph = import_graph()
    assert "toyclf.estimator" in graph["toyclf.classifier"]
    assert "toyclf.denoisers.stable_diffusion" in graph["toyclf.denoisers.pretrained"]


def test_the_cycle_finder_reports_a_cycle():
    graph = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:2"}, "c": {"a": "c.py:3", "d": "c.py:4"}, "d": {}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b": ""}, "b": {}}) == []
