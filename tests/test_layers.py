"""Library modules import downward only (../shared/STYLE.md, "Which way the imports run"), read from
the source: a new edge the diagram does not allow, or a private name taken from another package,
fails here. `__main__` modules are entry points and may import any stage."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {  # package -> the packages of ours its library modules may import
    "_infra": set(),  # shared infrastructure: about no stage
    "xai": {"_infra"},
    "runtime": {"xai", "_infra"},
    "export": {"runtime", "xai", "_infra"},
    "finetune": {"_infra"},
    "bench": {"export", "runtime", "finetune", "xai", "_infra"},
}


def library_modules() -> list[Path]:
    return sorted(p for package in ALLOWED for p in (ROOT / package).rglob("*.py") if p.name != "__main__.py")


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every absolute import of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def violations(path: Path, root: Path = ROOT) -> list[str]:
    package = path.relative_to(root).parts[0]
    problems = []
    for module, names, line in imports(path):
        top = module.split(".")[0]
        if top not in ALLOWED or top == package:
            continue
        where = f"{path.relative_to(root)}:{line}"
        if top not in ALLOWED[package]:
            problems.append(f"{where}: {package} imports {module} (allowed: {sorted(ALLOWED[package]) or 'none'})")
        private = [part for part in module.split(".")[1:] if part.startswith("_")] + [n for n in names if n.startswith("_")]
        if private:
            problems.append(f"{where}: private {', '.join(private)} of {top} used from {package}")
    return problems


def test_the_checker_sees_a_forbidden_edge(tmp_path):
    bad = tmp_path / "xai" / "probe.py"
    bad.parent.mkdir()
    bad.write_text("from runtime.manifest import MANIFEST\nfrom bench.plots import _private\nimport numpy\n")
    assert len(violations(bad, tmp_path)) == 3  # two forbidden edges and a private name


@pytest.mark.parametrize("package", list(ALLOWED))
def test_imports_run_downward(package):
    problems = [p for path in library_modules() if path.relative_to(ROOT).parts[0] == package for p in violations(path)]
    assert not problems, "\n".join(problems)


def test_a_registry_refuses_a_second_entry_under_a_taken_name():
    from runtime.backend import BACKENDS, register_backend
    from _infra.registry import DuplicateName

    class Impostor:
        name = "onnx"

    with pytest.raises(DuplicateName, match="backend 'onnx' is registered twice"):
        register_backend(Impostor)
    assert BACKENDS["onnx"] is not Impostor
