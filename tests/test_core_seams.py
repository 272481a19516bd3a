"""The core names no plugin (#18): the built-ins appear in its code only as the strings that load them."""

import ast
from pathlib import Path

import orchestrator_core
from orchestrator_core.plugins import BUILTIN_MODULES, DEFAULT_PLUGINS

CORE = Path(orchestrator_core.__file__).parent
#: The one place the core lists its built-ins.
ALLOWED = {CORE / "plugins.py"}
BUILTIN_PACKAGES = {name.split(".")[0] for name in (*DEFAULT_PLUGINS, *BUILTIN_MODULES.values())}


def strings_and_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every import and every string that is not a docstring, with its line."""
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def test_the_core_names_no_plugin():
    named = []
    for path in sorted(CORE.rglob("*.py")):
        if path in ALLOWED:
            continue
        for line, text in strings_and_imports(ast.parse(path.read_text())):
            hits = [p for p in BUILTIN_PACKAGES if p in text]
            if hits:
                named.append(f"{path.relative_to(CORE.parent)}:{line}: {', '.join(hits)}")
    assert named == []


# -- no import cycle in the core (#18) ------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_imports(path: Path, modules: set[str]) -> set[str]:
    """The core modules ``path`` imports, at module level or inside functions (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            source = node.module if not node.level else f"{base}.{node.module}" if node.module else base
            submodules = {f"{source}.{alias.name}" for alias in node.names} & modules
            # `from . import x` imports the submodule x; `from .x import name` imports x (and its package).
            found |= submodules if submodules and not node.module else {source, *submodules}
    return {m for m in found if m in modules and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or []."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node], _ = "open", path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node], _ = "done", path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_core_has_no_import_cycle():
    paths = {module_name(p): p for p in CORE.rglob("*.py")}
    graph = {name: core_imports(path, set(paths)) for name, path in paths.items()}
    assert "orchestrator_core.command_group" in graph["orchestrator_core.cli"]  # the walk sees imports
    assert find_cycle(graph) == []


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
