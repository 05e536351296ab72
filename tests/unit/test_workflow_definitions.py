"""A workflow's steps are named in three places: the schema's ``step`` type, the fields each
step needs, and the transitions. They must agree."""

from __future__ import annotations

import typing

import pytest

from ledger.domain.lots import NEXT_STEPS
from ledger.domain.schemas import Capa, Change, Ncr

pytestmark = pytest.mark.req("WF-1")


@pytest.mark.parametrize(("rtype", "model"), [("ncr", Ncr), ("capa", Capa), ("change", Change)])
def test_steps_agree(rtype: str, model: type[Ncr | Capa | Change]) -> None:
    typed = set(typing.get_args(model.model_fields["step"].annotation))
    transitions = set(NEXT_STEPS[rtype]) - {None}
    targets = {s for nxt in NEXT_STEPS[rtype].values() for s in nxt}
    assert typed == set(model.STEP_FIELDS) == transitions == targets
    assert NEXT_STEPS[rtype][None] == (next(iter(model.STEP_FIELDS)),)
