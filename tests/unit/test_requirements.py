"""The requirements catalogue and the tests agree (issue 16): every requirement in
docs/validation/requirements.toml is named by at least one test's ``req`` marker, and no test
names a requirement the catalogue does not have. Read statically (ast), so ``make test`` fails
on either before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.validation.catalogue import CatalogueError, all_marks, check, load, marks_in

pytestmark = pytest.mark.req("VAL-2")


def test_every_requirement_has_a_test_and_every_named_requirement_exists() -> None:
    catalogue = load()
    problems = check(catalogue, all_marks())
    assert not problems, "\n".join(problems)


def test_every_test_file_names_what_it_proves() -> None:
    from tests.validation.catalogue import ROOT

    files = sorted((ROOT / "tests").rglob("test_*.py"))
    named = {m.path for m in all_marks()}
    silent = [str(f.relative_to(ROOT)) for f in files if str(f.relative_to(ROOT)) not in named]
    assert not silent, (
        f"test files with no req marker: {silent}; add `pytestmark = pytest.mark.req(...)` (or "
        "a @pytest.mark.req per test) naming ids from docs/validation/requirements.toml"
    )


def test_the_catalogue_is_well_formed_and_of_a_useful_size() -> None:
    catalogue = load()
    assert 60 <= len(catalogue.requirements) <= 150
    assert {r.risk for r in catalogue.requirements} == {"high", "medium", "low"}
    assert all(r.activity for r in catalogue.requirements)


def test_the_check_names_a_requirement_without_a_test_and_an_unknown_one(
    tmp_path: Path,
) -> None:
    catalogue = load()
    some = catalogue.requirements[0].id
    test = tmp_path / "tests" / "test_x.py"
    test.parent.mkdir()
    test.write_text(
        "import pytest\n\n"
        f"pytestmark = pytest.mark.req({some!r})\n\n\n"
        "@pytest.mark.req('NOPE-1', VARIABLE)\n"
        "def test_a() -> None:\n    pass\n"
    )
    marks = marks_in(test, tmp_path)
    assert [(m.scope, m.ids) for m in marks] == [("<module>", (some,)), ("test_a", ("NOPE-1",))]
    problems = check(catalogue, marks)
    assert any("unknown requirement 'NOPE-1'" in p and "test_a" in p for p in problems)
    assert any("'VARIABLE' is not a string literal" in p for p in problems)
    missing = [p for p in problems if "has no test" in p]
    assert len(missing) == len(catalogue.requirements) - 1
    assert not any(f"requirement {some} " in p for p in missing)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('id = "RCPT-1"', 'id = "RCPT-2"'), "id used twice"),
        (lambda t: t.replace('id = "RCPT-1"', 'id = "rcpt one"'), "id must look like"),
        (lambda t: t.replace('risk = "high"', 'risk = "severe"', 1), "risk must be one of"),
        (lambda t: t.replace("[risk.low]", "[risk.lowish]"), "[risk.*] must define exactly"),
        (lambda t: t + '\n[[requirement]]\nid = "X-1"\n', "statement missing"),
        (lambda t: t + "[[requirement", "Expected"),
    ],
)
def test_a_malformed_catalogue_is_refused_naming_what(
    tmp_path: Path, edit: object, message: str
) -> None:
    from tests.validation.catalogue import CATALOGUE

    bad = tmp_path / "requirements.toml"
    bad.write_text(edit(CATALOGUE.read_text()))  # type: ignore[operator]
    with pytest.raises(CatalogueError) as err:
        load(bad)
    assert message in str(err.value)
