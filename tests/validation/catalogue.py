"""The requirements catalogue (docs/validation/requirements.toml) and the tests that name its
requirements with the pytest marker ``req``, read without running anything."""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "validation" / "requirements.toml"
ID = re.compile(r"^[A-Z][A-Z0-9]*(-[0-9A-Za-z.]+)+\Z")
RISKS = ("high", "medium", "low")


class CatalogueError(ValueError):
    """The catalogue is malformed: the message names the requirement and the field."""


@dataclass(frozen=True)
class Requirement:
    id: str
    statement: str
    clauses: tuple[str, ...]
    area: str
    risk: str
    activity: str


@dataclass
class Catalogue:
    meta: dict[str, Any]
    risk: dict[str, dict[str, str]]
    requirements: list[Requirement] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [r.id for r in self.requirements]

    def by_id(self) -> dict[str, Requirement]:
        return {r.id: r for r in self.requirements}


def load(path: Path = CATALOGUE) -> Catalogue:
    """The catalogue, checked: unique well-formed ids, a statement, clauses, an area and a
    risk class each; the classes each name their assurance activity."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    risk = data.get("risk")
    if not isinstance(risk, dict) or set(risk) != set(RISKS):
        raise CatalogueError(f"{path}: [risk.*] must define exactly {', '.join(RISKS)}")
    for name, cls in risk.items():
        if not isinstance(cls, dict) or not cls.get("meaning") or not cls.get("activity"):
            raise CatalogueError(f"{path}: risk.{name} needs meaning and activity")
    meta = data.get("meta")
    if not isinstance(meta, dict) or not meta.get("intended_use"):
        raise CatalogueError(f"{path}: [meta] needs intended_use")
    out = Catalogue(meta=meta, risk=risk)
    seen: set[str] = set()
    for n, item in enumerate(data.get("requirement", [])):
        rid = item.get("id")
        where = f"{path}: requirement {n + 1} ({rid!r})"
        if not isinstance(rid, str) or not ID.match(rid):
            raise CatalogueError(f"{where}: id must look like P11-10a-1 or RCPT-3")
        if rid in seen:
            raise CatalogueError(f"{where}: id used twice")
        seen.add(rid)
        unknown = set(item) - {"id", "statement", "clauses", "area", "risk", "activity"}
        if unknown:
            raise CatalogueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        statement, clauses, area = item.get("statement"), item.get("clauses"), item.get("area")
        if not isinstance(statement, str) or len(statement) < 10:
            raise CatalogueError(f"{where}: statement missing or too short")
        if (
            not isinstance(clauses, list)
            or not clauses
            or not all(isinstance(c, str) and c for c in clauses)
        ):
            raise CatalogueError(f"{where}: clauses must be a non-empty list of strings")
        if not isinstance(area, str) or not area:
            raise CatalogueError(f"{where}: area missing")
        if item.get("risk") not in RISKS:
            raise CatalogueError(f"{where}: risk must be one of {', '.join(RISKS)}")
        activity = item.get("activity") or risk[item["risk"]]["activity"]
        out.requirements.append(
            Requirement(rid, statement, tuple(clauses), area, item["risk"], activity)
        )
    if not out.requirements:
        raise CatalogueError(f"{path}: no [[requirement]]")
    return out


@dataclass(frozen=True)
class Mark:
    """A ``req`` marker in a test file: where, on what (the module, a class or a test)."""

    path: str
    line: int
    scope: str
    ids: tuple[str, ...]
    problems: tuple[str, ...] = ()


def _is_req(node: ast.AST) -> bool:
    """``pytest.mark.req(...)`` or ``mark.req(...)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "req"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    )


def _scope(tree: ast.Module, call: ast.Call) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if any(call is d or call in list(ast.walk(d)) for d in node.decorator_list):
                return node.name
    return "<module>"


def marks_in(path: Path, root: Path = ROOT) -> list[Mark]:
    """Every ``req`` marker in one test file, read with :mod:`ast` (nothing is imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if not _is_req(node):
            continue
        assert isinstance(node, ast.Call)
        ids, problems = [], []
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                ids.append(arg.value)
            else:
                problems.append(f"argument {ast.unparse(arg)!r} is not a string literal")
        if node.keywords:
            problems.append("req takes requirement ids only, no keywords")
        if not node.args:
            problems.append("req names no requirement")
        out.append(
            Mark(
                str(path.relative_to(root)),
                node.lineno,
                _scope(tree, node),
                tuple(ids),
                tuple(problems),
            )
        )
    return out


def all_marks(root: Path = ROOT) -> list[Mark]:
    tests = root / "tests"
    files = sorted({*tests.rglob("test_*.py"), *tests.rglob("*_test.py")})
    return [m for f in files for m in marks_in(f, root)]


def check(catalogue: Catalogue, marks: list[Mark]) -> list[str]:
    """What is wrong, one line each: a requirement no test names, a test naming an unknown
    requirement, a malformed marker. Empty when the tests and the catalogue agree."""
    known = set(catalogue.ids())
    problems = []
    named: set[str] = set()
    for m in marks:
        problems += [f"{m.path}:{m.line} ({m.scope}): {p}" for p in m.problems]
        for rid in m.ids:
            if rid not in known:
                problems.append(f"{m.path}:{m.line} ({m.scope}): unknown requirement {rid!r}")
            named.add(rid)
    problems += [
        f"requirement {r.id} ({r.risk}) has no test: {r.statement}"
        for r in catalogue.requirements
        if r.id not in named
    ]
    return problems
