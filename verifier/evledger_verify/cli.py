"""``evledger-verify``: the auditor's offline verifier.

Exit codes: 0 verified, 1 verification failed (altered, missing, inconsistent),
2 could not check (bad usage, unreadable file, node unreachable).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote

from evledger_verify import strictjson
from evledger_verify.bundle import verify_bundle
from evledger_verify.checkpoint import MAX_NOTE_SIZE
from evledger_verify.errors import CannotCheckError, FormatError, VerifyError
from evledger_verify.promise import PROMISE_FORMAT, Promise, judge, verify_promise
from evledger_verify.receipt import (
    MAX_RECEIPT_BYTES,
    Check,
    Report,
    Trust,
    load_json_file,
    verify_receipt,
)
from evledger_verify.records import load_record_file
from evledger_verify.rpc import RpcClient, check_receipt_on_chains

__all__ = ["EXIT_CANNOT_CHECK", "EXIT_FAILED", "EXIT_OK", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_CHECK = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise CannotCheckError(f"usage: {message}")


def _version() -> str:
    try:
        return version("evledger-verify")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="evledger-verify",
        description="Verify evledger receipts offline against a pinned trust file. "
        "Exit 0 = verified, 1 = verification failed, 2 = could not check.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rc = sub.add_parser(
        "receipt",
        help="verify one record's receipt",
        description="Verify one record's receipt: the record, its logged entry and signature, "
        "the inclusion proof, the signed checkpoint, and each chain's anchor (a consistency "
        "proof ties an anchor of another tree size to the receipt's). The trust file pins the "
        "log key and origin, the primary chain_id and contract, and optionally 'chains' (every "
        "chain whose anchors count: a list of {chain_id, contract}, the primary among them) and "
        "'require' ('any', 'all', or a list of chain ids that must each hold an anchor; default: "
        "the primary chain). Anchors on chains the trust file does not name are not counted. "
        "Exit 0 = verified, 1 = verification failed, 2 = could not check.",
    )
    rc.add_argument("receipt", metavar="RECEIPT.json")
    rc.add_argument("--record", metavar="RECORD.json", help="the record the receipt is for")
    rc.add_argument(
        "--trust",
        metavar="TRUST.json",
        required=True,
        help="pinned log key and origin, chain id and contract, and the chains and require keys",
    )
    rc.add_argument(
        "--rpc",
        metavar="URL",
        action="append",
        help="also confirm on chain, against this node, the receipt's anchor for the chain the "
        "node is on; repeat it for each chain. A node that cannot be reached is not needed when "
        "the requirement is met on the other chains; otherwise the receipt could not be checked",
    )
    rc.add_argument(
        "--require-final",
        action="store_true",
        help="fail unless the required anchors are final (past their chain's finality, not just "
        "included); with require 'any', at least one counted anchor",
    )
    rc.add_argument("--json", action="store_true", help="print the report as JSON")
    pr = sub.add_parser(
        "promise",
        help="check an acceptance promise; with --receipt or --api, whether the log kept it",
    )
    pr.add_argument(
        "promise", metavar="PROMISE", help="the promise note, or the JSON answer that holds it"
    )
    pr.add_argument("--trust", metavar="TRUST.json", required=True, help="pinned log key")
    pr.add_argument("--receipt", metavar="RECEIPT.json", help="the record's receipt, if any")
    pr.add_argument(
        "--api", metavar="URL", help="ask the ledger for the record's receipt (it may say none)"
    )
    pr.add_argument("--now", metavar="TIME", help="judge at this RFC 3339 time (default: now)")
    pr.add_argument("--json", action="store_true", help="print the report as JSON")
    bd = sub.add_parser(
        "bundle",
        help="verify an evidence bundle (a lot or a period) fully offline",
        description="Verify an evidence bundle (evledger-bundle/1, from `evledger export`) "
        "with nothing else: the zip itself, every record's hash and EIP-712 signature, each "
        "signer's authority at the signing time, every workflow and release rule re-judged, the "
        "signed checkpoint, every record's inclusion, each lot's chain without a gap, and each "
        "anchor down to its block header. Each check names the clauses it supports. Fails "
        "closed. Exit 0 = verified, 1 = verification failed, 2 = could not check.",
    )
    bd.add_argument("bundle", metavar="BUNDLE.zip")
    bd.add_argument(
        "--trust",
        metavar="TRUST.json",
        required=True,
        help="pinned log key and origin, chains and require (as for receipts)",
    )
    bd.add_argument(
        "--rpc",
        metavar="URL",
        action="append",
        help="also confirm that each anchor's block is canonical and final on this "
        "node (one per chain); anchors not final when exported need it",
    )
    bd.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes for the signature checks (default: every core)",
    )
    bd.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _load_trust(path: str) -> Trust:
    try:
        return Trust.from_json(load_json_file(path, "trust file"))
    except FormatError as exc:
        raise CannotCheckError(str(exc)) from exc


def _load_record(path: str) -> dict[str, object]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CannotCheckError(f"record: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return load_record_file(data)
    except FormatError as exc:
        raise CannotCheckError(str(exc)) from exc


def _cmd_receipt(args: argparse.Namespace) -> Report:
    trust = _load_trust(args.trust)
    record = _load_record(args.record) if args.record else None
    receipt_json = load_json_file(args.receipt, "receipt")
    clients = [RpcClient(url) for url in args.rpc or ()]
    on_chain = functools.partial(check_receipt_on_chains, clients) if clients else None
    report, receipt = verify_receipt(
        receipt_json, trust, record, require_final=args.require_final, on_chain=on_chain
    )
    if clients and receipt is None:
        report.fail("chain", "not checked: the receipt could not be parsed")
    return report


def _cmd_bundle(args: argparse.Namespace) -> Report:
    trust = _load_trust(args.trust)
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise CannotCheckError(f"--workers: expected 1..256, got {args.workers}")
    shown: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if args.json or (done < total and now - shown.get(stage, 0.0) < 1.0):
            return
        shown[stage] = now
        print(f"  {stage}: {done}/{total}", file=sys.stderr)

    return verify_bundle(
        args.bundle,
        trust,
        rpc=[RpcClient(url) for url in args.rpc or ()],
        progress=progress,
        workers=args.workers,
    )


def _read_promise(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            text = fh.read(MAX_NOTE_SIZE * 4 + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CannotCheckError(f"promise: cannot read {path}: {exc}") from exc
    if text.lstrip().startswith("{"):
        try:
            answer = strictjson.loads(text.encode())
        except FormatError as exc:
            raise CannotCheckError(f"promise: {path} is not valid JSON: {exc}") from None
        note = answer.get("promise") if isinstance(answer, dict) else None
        if not isinstance(note, str):
            raise CannotCheckError(f"promise: {path}: expected a JSON answer with a promise")
        return note
    if not text.startswith(PROMISE_FORMAT + "\n"):
        raise CannotCheckError(
            f"promise: {path}: expected a promise note (first line {PROMISE_FORMAT}) or the "
            "JSON answer that carries one"
        )
    return text


def _fetch_receipt(api: str, record_id: str) -> dict[str, Any] | None:
    """The ledger's receipt for ``record_id`` (anchored or not), None when it has none."""
    url = f"{api.rstrip('/')}/v1/records/{quote(record_id, safe='')}/receipt"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - operator's URL
            body = strictjson.loads(resp.read(MAX_RECEIPT_BYTES))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise CannotCheckError(f"api: {url}: HTTP {exc.code}") from exc
    except (OSError, ValueError, FormatError) as exc:
        raise CannotCheckError(f"api: {url}: {exc}") from exc
    return body if isinstance(body, dict) else None


def _cmd_promise(args: argparse.Namespace) -> Report:
    trust = _load_trust(args.trust)
    note = _read_promise(args.promise)
    report = Report("promise")
    verifier = trust.log_key
    found: list[Promise] = []

    def signature() -> str:
        found.append(verify_promise(note, verifier, trust.log_origin))
        p = found[0]
        return (
            f"signed by the log key: record {p.record_id}, leaf {p.leaf_hash.hex()[:16]}..., "
            f"accepted {p.to_json()['accepted_at']}, due in a checkpoint by "
            f"{p.to_json()['deadline']}"
        )

    if not report.run("signature", signature):
        return report
    promise = found[0]
    now = datetime.now(UTC) if args.now is None else _parse_now(args.now)
    receipt: dict[str, Any] | None = None
    if args.receipt:
        receipt = load_json_file(args.receipt, "receipt")
        sub, _ = verify_receipt(receipt, trust)
        if not sub.ok:
            report.fail(
                "receipt", "; ".join(f"{c.name}: {c.detail}" for c in sub.checks if not c.ok)
            )
            return report
    elif args.api:
        receipt = _fetch_receipt(args.api, promise.record_id)
    elif now > promise.deadline:
        report.could_not_check = (
            "the deadline has passed: give --receipt or --api to judge whether it was kept"
        )
        return report
    verdict = judge(promise, receipt, now)
    if verdict.state == "broken":
        report.fail("kept", verdict.detail)
    else:
        report.checks.append(Check("kept", True, f"{verdict.state}: {verdict.detail}"))
    return report


def _parse_now(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CannotCheckError(f"--now: expected an RFC 3339 time, got {text!r}") from exc
    if moment.tzinfo is None:
        raise CannotCheckError(f"--now: expected a time zone, got {text!r}")
    return moment


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        out = report.to_json()
        if report.could_not_check is not None:
            out.update(error=report.could_not_check, exit=EXIT_CANNOT_CHECK)
        print(json.dumps(out, indent=2))
        return
    for c in report.checks:
        print(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
        if c.clause:
            print(f"       supports: {c.clause}")
    if report.could_not_check is not None:
        print(f"evledger-verify: could not check: {report.could_not_check}", file=sys.stderr)
        print(f"INCOMPLETE: {report.subject}: the remaining checks could not be made")
        return
    print(f"{'VERIFIED' if report.ok else 'FAILED'}: {report.subject}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    as_json = False
    try:
        args = parser.parse_args(argv)
        as_json = bool(getattr(args, "json", False))
        commands = {"promise": _cmd_promise, "receipt": _cmd_receipt, "bundle": _cmd_bundle}
        report = commands[args.command](args)
    except CannotCheckError as exc:
        if as_json:
            print(json.dumps({"verified": False, "error": str(exc), "exit": EXIT_CANNOT_CHECK}))
        else:
            print(f"evledger-verify: could not check: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    except VerifyError as exc:  # any other deliberate error is a failed verification
        if as_json:
            print(json.dumps({"verified": False, "error": str(exc), "exit": EXIT_FAILED}))
        else:
            print(f"evledger-verify: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (Exception, RecursionError) as exc:  # never a traceback: exit 2, said plainly
        message = f"internal error on this input: {exc.__class__.__name__}: {str(exc)[:300]}"
        if as_json:
            print(json.dumps({"verified": False, "error": message, "exit": EXIT_CANNOT_CHECK}))
        else:
            print(f"evledger-verify: could not check: {message}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    _print(report, as_json)
    if report.ok:
        return EXIT_OK
    failed = any(not c.ok for c in report.checks)
    return EXIT_FAILED if failed or report.could_not_check is None else EXIT_CANNOT_CHECK


if __name__ == "__main__":
    sys.exit(main())
