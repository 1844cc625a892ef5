"""Every public function of ``shapepipe/`` and ``modules/*_package/`` is annotated.

Public means: a module-level function, or a method of a module-level class,
where neither the function nor the class name starts with ``_``.  A function
counts as annotated when its return and all its parameters (except the
leading ``self``/``cls`` of a method) carry annotations.  Run this file as a
script to print the count and the list of offenders.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]


def source_files(root: Path = ROOT) -> list[Path]:
    """Return the .py files of ``shapepipe/`` and ``modules/*_package/``."""
    files = sorted((root / "shapepipe").rglob("*.py"))
    for package in sorted((root / "modules").glob("*_package")):
        files.extend(sorted(package.rglob("*.py")))
    return [path for path in files if ".venv" not in path.parts]


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Yield module-level statements, looking inside ``if``/``try`` blocks."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        else:
            yield node


def _missing(func: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """Return the names of the unannotated parts of ``func``."""
    args = func.args
    positional = list(args.posonlyargs) + list(args.args)
    is_static = any(
        isinstance(dec, ast.Name) and dec.id == "staticmethod"
        for dec in func.decorator_list
    )
    if method and not is_static and positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    params = positional + list(args.kwonlyargs)
    params += [arg for arg in (args.vararg, args.kwarg) if arg is not None]
    missing = [arg.arg for arg in params if arg.annotation is None]
    if func.returns is None:
        missing.append("return")
    return missing


def public_functions(
    path: Path,
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """Yield ``(qualified name, node, is_method)`` for the public functions of ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in _module_level(tree.body):
        if isinstance(node, funcs) and not node.name.startswith("_"):
            yield node.name, node, False
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, funcs) and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item, True


def unannotated(root: Path = ROOT) -> tuple[int, list[str]]:
    """Return the number of public functions and the list of unannotated ones."""
    total = 0
    offenders = []
    for path in source_files(root):
        for name, node, method in public_functions(path):
            total += 1
            missing = _missing(node, method)
            if missing:
                rel = path.relative_to(root)
                offenders.append(f"{rel}:{node.lineno} {name} ({', '.join(missing)})")
    return total, offenders


def test_public_functions_are_annotated() -> None:
    total, offenders = unannotated()
    assert total > 100  # the walk found the code base
    assert not offenders, (
        f"{len(offenders)} of {total} public functions lack type hints:\n"
        + "\n".join(offenders)
    )


def test_detects_missing_annotations(tmp_path: Path) -> None:
    pkg = tmp_path / "shapepipe"
    pkg.mkdir()
    (pkg / "mod.py").write_text(
        "def ok(a: int, *b: str, c: float = 1.0, **d: int) -> None: ...\n"
        "def no_return(a: int): ...\n"
        "def _private(a): ...\n"
        "class Public:\n"
        "    def method(self, x) -> int: ...\n"
        "    @staticmethod\n"
        "    def static(self: int) -> int: ...\n"
        "    def _hidden(self, y): ...\n"
        "class _Private:\n"
        "    def method(self, x): ...\n"
    )
    (tmp_path / "modules" / "x_package").mkdir(parents=True)
    (tmp_path / "modules" / "x_package" / "m.py").write_text("def f(*args): pass\n")
    total, offenders = unannotated(tmp_path)
    assert total == 5
    assert sorted(o.split(" ", 1)[1] for o in offenders) == [
        "Public.method (x)",
        "f (args, return)",
        "no_return (return)",
    ]


if __name__ == "__main__":
    total, offenders = unannotated()
    print("\n".join(offenders))
    print(f"{len(offenders)} of {total} public functions lack type hints", file=sys.stderr)
