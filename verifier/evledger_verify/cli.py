"""``evledger-verify``: the auditor's offline verifier.

Exit codes: 0 verified, 1 verification failed (altered, missing, inconsistent),
2 could not check (bad usage, unreadable file, node unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from evledger_verify.errors import CannotCheckError, FormatError, VerifyError
from evledger_verify.receipt import Report, Trust, load_json_file, verify_receipt
from evledger_verify.records import load_record_file
from evledger_verify.rpc import RpcClient, check_anchor_on_chain

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
    rc = sub.add_parser("receipt", help="verify one record's receipt")
    rc.add_argument("receipt", metavar="RECEIPT.json")
    rc.add_argument("--record", metavar="RECORD.json", help="the record the receipt is for")
    rc.add_argument(
        "--trust",
        metavar="TRUST.json",
        required=True,
        help="pinned log key, origin, chain id and contract",
    )
    rc.add_argument("--rpc", metavar="URL", help="also confirm the anchor against this node")
    rc.add_argument("--json", action="store_true", help="print the report as JSON")
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
    report, receipt = verify_receipt(receipt_json, trust, record)
    if args.rpc:
        client = RpcClient(args.rpc)
        if receipt is None:
            report.fail("chain", "not checked: the receipt could not be parsed")
        else:
            try:
                check_anchor_on_chain(
                    client, trust, receipt.anchor, receipt.tree_size, receipt.root_hash, report
                )
            except CannotCheckError as exc:
                report.could_not_check = str(exc)
    return report


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        out = report.to_json()
        if report.could_not_check is not None:
            out.update(error=report.could_not_check, exit=EXIT_CANNOT_CHECK)
        print(json.dumps(out, indent=2))
        return
    for c in report.checks:
        print(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
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
        report = _cmd_receipt(args)
    except CannotCheckError as exc:
        if as_json:
            print(json.dumps({"verified": False, "error": str(exc), "exit": EXIT_CANNOT_CHECK}))
        else:
            print(f"evledger-verify: could not check: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    except VerifyError as exc:  # any other deliberate error is a failed verification
        print(f"evledger-verify: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _print(report, as_json)
    if report.ok:
        return EXIT_OK
    failed = any(not c.ok for c in report.checks)
    return EXIT_FAILED if failed or report.could_not_check is None else EXIT_CANNOT_CHECK


if __name__ == "__main__":
    sys.exit(main())
