"""The core names no plugin (#18): the built-ins appear in its code only as the strings that load them."""

import ast
from pathlib import Path

import orchestrator_core
from orchestrator_core.plugins import BUILTIN_MODULES, DEFAULT_PLUGINS

CORE = Path(orchestrator_core.__file__).parent
#: The one place the core lists its built-ins, and orc's pytest plugin's store fixture (the store's own schema).
ALLOWED = {CORE / "plugins.py", CORE / "testing" / "pytest_plugin.py"}
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
