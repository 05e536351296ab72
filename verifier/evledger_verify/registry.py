"""The signer registry: a projection of the signed ``signer`` records of the log, defined once
for the service, the audit and the offline bundle verifier.

A ``signer`` record grants or revokes: ``{"type": "signer", "action": "grant" | "revoke",
"address": "0x...", "name": "Printed Name", "roles": [...], "person": "E-1042"}``. A key
belongs to one person for good (its first grant's ``person``; the key itself when none is
named), and one person may hold several keys: the segregation of duties compares persons.
Authority is judged as the registry stood at the signing time of the record being checked,
and as it stands at its acceptance (21 CFR 11.10(g); :meth:`SignerState.roles_judged`): apply
the signer records in signing-time order (log order breaks ties).

A signer record the service would have refused (a grant by a key without authority, a person
granting roles to a key of their own) changes no one's authority: the service never applies
it. Whoever re-judges a log (the audit, the offline bundle verifier) does so in log order
through a :class:`Replay`, which withdraws such a record from the registry as soon as it is
judged, so no record after it is judged with the roles it grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evledger_verify.judge import Judge
    from evledger_verify.rules import Refused, Stored

__all__ = ["Registry", "Replay", "SignerState"]


@dataclass
class SignerState:
    address: str
    name: str
    roles: tuple[str, ...]
    # (valid_from, valid_until or None, roles), in unix seconds of the records' signing times
    intervals: list[tuple[int, int | None, tuple[str, ...]]] = field(default_factory=list)
    #: (granted at, printed name): a signature shows the name registered when it was made.
    names: list[tuple[int, str]] = field(default_factory=list)
    #: Set by a revoke with "compromised": true: from then on no signature by this key is
    #: accepted, whatever signing time it claims (no backdating with a stolen key).
    compromised_by: str | None = None
    #: The person the key belongs to, as its first grant named it (None: the key is the
    #: person); fixed for good (a grant naming another person is refused by the rules).
    person_id: str | None = None

    @property
    def person(self) -> str:
        """Who signs with this key, as the segregation of duties compares signers."""
        return self.person_id or f"key:{self.address.lower()}"

    def name_at(self, t: int) -> str:
        """The printed name as registered at time ``t`` (21 CFR 11.50)."""
        current = self.names[0][1] if self.names else self.name
        for start, name in self.names[1:]:
            if start < t:  # a rename applies from the second after it was signed
                current = name
        return current

    def roles_at(self, t: int) -> tuple[str, ...] | None:
        """The roles held at time ``t``, or None when not an active signer then."""
        for start, end, roles in self.intervals:
            if start <= t and (end is None or t < end):
                return roles
        return None

    def roles_judged(self, signed_at: int, accepted_at: int) -> tuple[str, ...] | None:
        """The roles a signature carries: those held at the signing time and still held at
        its acceptance (a signer revoked or demoted in between signs nothing more with them:
        no backdating past a revocation). A device's records keep their capture time (its
        outbox may deliver them days later); a compromised key is refused elsewhere."""
        at_signing = self.roles_at(signed_at)
        if at_signing is None or "device" in at_signing:
            return at_signing
        now = self.roles_at(max(signed_at, accepted_at))
        if now is None:
            return None
        kept = tuple(r for r in at_signing if r in now)
        return kept or None

    @property
    def revoked(self) -> bool:
        return not self.intervals or self.intervals[-1][1] is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.name,
            "roles": list(self.roles),
            "active": not self.revoked,
            "compromised": self.compromised_by is not None,
            "person": self.person,
            "intervals": [{"from": s, "until": e, "roles": list(r)} for s, e, r in self.intervals],
        }


class Registry:
    def __init__(self) -> None:
        self.signers: dict[str, SignerState] = {}
        #: Per key, the signer records applied to it in the order applied (to replay them when
        #: one is withdrawn), and the key each record id was applied to.
        self._applied: dict[str, list[tuple[Mapping[str, Any], int]]] = {}
        self._key_of: dict[str, str] = {}
        #: The ids of the signer records withdrawn (:meth:`withdraw`), in the order withdrawn.
        self.withdrawn: list[str] = []

    def apply(self, record: Mapping[str, Any], signed_at: int) -> None:
        key = str(record["address"]).lower()
        self._applied.setdefault(key, []).append((record, signed_at))
        self._key_of[str(record.get("record_id"))] = key
        self._apply(key, record, signed_at)

    def withdraw(self, record_id: str) -> None:
        """Undo the signer record ``record_id`` (one the rules refuse): the key it names stands
        as if it had never been applied. Only that key's records are replayed."""
        key = self._key_of.pop(record_id, None)
        if key is None:
            return
        kept = [(r, t) for r, t in self._applied[key] if str(r.get("record_id")) != record_id]
        self._applied[key] = kept
        self.signers.pop(key, None)
        for record, signed_at in kept:
            self._apply(key, record, signed_at)
        self.withdrawn.append(record_id)

    def _apply(self, key: str, record: Mapping[str, Any], signed_at: int) -> None:
        state = self.signers.get(key)
        if record["action"] == "grant":
            if state is None:
                person = record.get("person")
                state = self.signers[key] = SignerState(
                    str(record["address"]),
                    "",
                    (),
                    person_id=person if isinstance(person, str) else None,
                )
            self._close(state, signed_at)
            state.name = str(record["name"])
            state.names.append((signed_at, state.name))
            state.roles = tuple(record["roles"])
            state.intervals.append((signed_at, None, state.roles))
        elif state is not None:
            self._close(state, signed_at)
            if record.get("compromised") is True:
                state.compromised_by = str(record.get("record_id"))

    @staticmethod
    def _close(state: SignerState, at: int) -> None:
        if state.intervals and state.intervals[-1][1] is None:
            start, _, roles = state.intervals[-1]
            state.intervals[-1] = (start, at, roles)

    def get(self, address: str) -> SignerState | None:
        return self.signers.get(address.lower())

    def person_of(self, address: str) -> str | None:
        """The person a key belongs to (the key itself when no grant named one); None for a key
        never granted (as :meth:`evledger_verify.rules.History.person` says)."""
        state = self.get(address)
        return state.person if state else None

    def name_of(self, address: str) -> str:
        """The signer's current printed name, for messages ("unregistered" if unknown)."""
        state = self.get(address)
        return state.name if state else "unregistered"

    def __len__(self) -> int:
        return len(self.signers)

    def all(self) -> Iterable[SignerState]:
        return self.signers.values()


class Replay:
    """A log re-judged record by record in log order, as the service judged each at its
    acceptance: first the signer's authority (:meth:`authority`), then the rules
    (:meth:`rules`, through ``judge``). The registry starts as every signer record makes it;
    a signer record without authority, or one the rules refuse, is withdrawn from it as soon
    as it is judged, since the service would never have applied it: no record after it is
    judged with what it granted (nor with what it revoked). The audit and the bundle verifier
    judge through it.

    ``positions``: each signer record's position in the log (any increasing numbering), to
    tell the records logged after a key was reported compromised."""

    def __init__(self, registry: Registry, judge: Judge, positions: Mapping[str, int]) -> None:
        self.registry = registry
        self.judge = judge
        self.positions = positions

    def authority(
        self,
        record_id: str,
        record_type: str,
        signer: str,
        signed_at: int,
        accepted_at: int,
        position: int,
    ) -> str | None:
        """Why the signer had no authority for the record at ``position`` (signed at
        ``signed_at``, accepted at ``accepted_at``, Unix seconds), or None when it had:
        registered and active at the signing time, still active at the acceptance, its key
        not reported compromised before."""
        state = self.registry.get(signer)
        problem = None
        if state is None or state.roles_at(signed_at) is None:
            problem = f"{signer} was not an active signer at {signed_at}"
        elif state.roles_judged(signed_at, accepted_at) is None:
            problem = (
                f"{signer} was revoked after signing at {signed_at} and before the record was "
                f"accepted at {accepted_at}"
            )
        elif state.compromised_by is not None and position > self.positions.get(
            state.compromised_by, position
        ):
            problem = (
                f"accepted after {signer}'s key was reported compromised ({state.compromised_by})"
            )
        if problem is not None and record_type == "signer":
            self.registry.withdraw(record_id)
        return problem

    def rules(self, record: Stored, signed_at: int, accepted_at: int) -> Refused | None:
        """The rule ``record`` breaks, judged with the roles its signer held at the signing
        time and still at the acceptance (None: none, or the signer held no roles, which
        :meth:`authority` names)."""
        state = self.registry.get(record.signer)
        roles = state.roles_judged(signed_at, accepted_at) if state is not None else None
        if roles is None:
            return None
        refused = self.judge.judge(record, roles)
        if refused is not None and record.type == "signer":
            self.registry.withdraw(record.record_id)
        return refused
