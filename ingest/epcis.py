"""Signing GS1 EPCIS 2.0 capture documents for ``POST /v1/epcis/capture``.

An MES or WMS registered with role ``system`` signs each event of an EPCISDocument with its key;
each event then carries its record's signature as ``evl:proof`` and the service records it as
an ``epcis_event/1`` record. The record is built by the verifier
(:func:`evledger_verify.epcis.epcis_record`), as the service builds it to check the signature.

    from ingest.client import Client, load_key
    from ingest.epcis import sign_capture_document

    key = load_key(Path("mes.key"))
    with Client("http://127.0.0.1:8000") as api:
        signed = sign_capture_document(document, key, api.domain())
    # POST signed to /v1/epcis/capture (Content-Type: application/ld+json); keep it and send the
    # same signed document again after a lost answer: its events come back as duplicates.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from evledger_verify.epcis import (
    EVL_NAMESPACE,
    MEANING,
    PROOF,
    CaptureProof,
    EPCISFormatError,
    epcis_record,
)
from evledger_verify.records import Domain

from ingest.client import InvalidInputError, SigningKey

__all__ = ["sign_capture_document"]

_PREFIX = PROOF.partition(":")[0]


def sign_capture_document(
    document: Mapping[str, Any],
    key: SigningKey,
    domain: Domain,
    signed_at: int | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` ready for ``POST /v1/epcis/capture``: ``evl`` declared in its
    ``@context`` and every event carrying ``evl:proof`` (record id, signature, ``signed_at``
    (default now), signer) for the ledger of ``domain``. A proof already there is replaced.

    Raises :class:`~ingest.client.InvalidInputError` naming the event and field when an event
    cannot be recorded (the same checks the service makes), or when the document's
    ``@context`` gives ``evl`` another meaning.
    """
    if not isinstance(document, Mapping) or document.get("type") != "EPCISDocument":
        raise InvalidInputError("document: expected an EPCISDocument JSON object")
    signed = copy.deepcopy(dict(document))
    context = signed.get("@context")
    entries: list[Any] = context if isinstance(context, list) else [context] if context else []
    declared = [e[_PREFIX] for e in entries if isinstance(e, Mapping) and _PREFIX in e]
    if any(d != EVL_NAMESPACE for d in declared):
        raise InvalidInputError(
            f"document.@context: {_PREFIX!r} is declared as {declared[0]!r}; the proofs need it "
            f"as {EVL_NAMESPACE!r}"
        )
    if not declared:
        entries = [*entries, {_PREFIX: EVL_NAMESPACE}]
    signed["@context"] = entries
    body = signed.get("epcisBody")
    events = body.get("eventList") if isinstance(body, Mapping) else None
    if not isinstance(events, list):
        raise InvalidInputError("document.epcisBody.eventList: expected a list of events")
    for i, event in enumerate(events):
        try:
            record = epcis_record(event, entries, f"eventList[{i}]")
        except EPCISFormatError as exc:
            raise InvalidInputError(str(exc)) from None
        submission = key.sign(record, MEANING, domain, signed_at)
        proof = CaptureProof(
            record["record_id"], submission.signature, submission.signed_at, key.address
        )
        event.pop(EVL_NAMESPACE + "proof", None)
        event[PROOF] = proof.to_json()
    return signed
