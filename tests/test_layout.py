"""The package's shape stays what docs/ARCHITECTURE.md says: no import cycles, small classes and functions."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "avatargen"
MAX_FUNCTION_LINES = 80
MAX_PUBLIC_METHODS = 20
MAX_TOP_LEVEL_MODULES = 10  # besides the subpackages


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


def imports_at_load(tree: ast.Module, known: set[str]) -> set[str]:
    """The avatargen modules a module imports when it is loaded (not inside functions, not for type checking)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else ():
            if isinstance(inner, ast.Import):
                names |= {alias.name for alias in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.module:
                names |= {inner.module} | {f"{inner.module}.{alias.name}" for alias in inner.names}
    return {name for name in names if name in known}


def test_no_import_cycle_inside_the_package():
    found = modules()
    graph = {name: imports_at_load(tree, set(found)) - {name} for name, tree in found.items()}
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if name.startswith(f"{target}.") or target == name:  # a package's own __init__ is loaded first anyway
                continue
            assert state.get(target) != "open", f"import cycle: {' → '.join([*path, name, target])}"
            if target not in state:
                visit(target, [*path, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_functions_and_classes_stay_small():
    too_long, too_wide = [], []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
            elif isinstance(node, ast.ClassDef):
                public = [
                    item.name
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("_")
                ]
                if len(public) > MAX_PUBLIC_METHODS:
                    too_wide.append(f"{name}.{node.name}: {len(public)} public methods")
    assert not too_long, too_long
    assert not too_wide, too_wide


def test_the_top_level_holds_few_modules():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
