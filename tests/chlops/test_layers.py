"""The import graph keeps its direction: the engine loads without the template layer, and no project
import hides inside a function to dodge a circle (STYLE: "a low layer that reaches up")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

APPS = ("chlops", "operations", "indexes", "monitoring", "audit", "diagnostics")
ROOT = Path(settings.BASE_DIR)
ENGINE = ("operations.runner", "operations.services", "operations.broadcasts", "operations.tasks", "operations.queueing")
TEMPLATE_LAYER = ("operations.fragments", "operations.cards", "operations.views", "operations.consumers", "operations.forms")
# Imports that stay inside functions on purpose, each for a reason other than a circle.
DEFERRED = {
    ("indexes.embedders", "indexes.embedders.hashing"): "builds only the embedder that is configured",
    ("indexes.embedders", "indexes.embedders.minilm"): "torch loads only where minilm is chosen",
    ("indexes.job_types", "indexes.services.reindex"): "faiss loads only in processes that build",
    ("indexes.job_types", "indexes.snapshots.services"): "faiss loads only in processes that snapshot",
    ("indexes.job_types", "indexes.snapshots.restore"): "faiss loads only in processes that restore",
    ("indexes.store", "indexes.store"): "faiss loads when the index is first built or read, not with the pages",
    ("indexes.search", "indexes.store"): "faiss loads on the first search, not with the pages",
    ("indexes.search", "indexes.sparse.search"): "scipy is optional; its absence is a sentence, not a crash",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    }


def imported(node: ast.AST, module: str) -> list[str]:
    """Project modules a statement imports (both `from a import b` as a.b when b is a module, and a)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def module_imports(path: Path, module: str, known: set[str]) -> tuple[set[str], set[str]]:
    """What a module imports at load time, and what it imports inside functions (TYPE_CHECKING aside)."""
    tree = ast.parse(path.read_text())
    top: set[str] = set()
    deferred: set[str] = set()

    def visit(node: ast.AST, *, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            names = {name for name in imported(child, module) if name in known}
            (deferred if in_function else top).update(names)
            visit(child, in_function=in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, in_function=False)
    return top, deferred


@pytest.fixture(scope="module")
def graph() -> dict[str, tuple[set[str], set[str]]]:
    modules = project_modules()
    known = set(modules)
    return {name: module_imports(path, name, known) for name, path in modules.items()}


def loaded_with(graph, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b loads a too
        todo.extend(graph.get(name, (set(), set()))[0])
    return seen


class LayerTests:
    @pytest.mark.parametrize("engine", ENGINE)
    def test_the_job_engine_loads_without_the_template_layer(self, graph, engine):
        assert not loaded_with(graph, engine) & set(TEMPLATE_LAYER)

    def test_no_project_import_hides_inside_a_function(self, graph):
        hidden = {
            (module, target)
            for module, (_, deferred) in graph.items()
            if not module.endswith(".apps")  # AppConfig.ready() is where registration belongs
            for target in deferred
            if (module, target) not in DEFERRED and not any(target.startswith(f"{d}.") for m, d in DEFERRED if m == module)
        }
        assert hidden == set()

    def test_the_checker_sees_an_import_inside_a_function(self, tmp_path):
        path = tmp_path / "probe.py"
        path.write_text("def f():\n    from operations import fragments\n")
        assert module_imports(path, "probe", {"operations", "operations.fragments"})[1] == {
            "operations",
            "operations.fragments",
        }
