"""The certificate of conformance of a released lot, as a PDF a customer receives with it.

It states the lot, the product (GTIN and name), the release decision and who made it (printed
name, meaning, UTC time: the signature manifestation of 21 CFR 11.50), a summary of the lot's
inspections, and the concessions its NCRs granted (use as is, bounded), with their rationale.
Its QR code holds the lot's GS1 Digital Link URI on this ledger
(``https://<host>/01/<gtin>/10/<lot>``) with the release's receipt in the URI fragment
(:func:`receipt_fragment`), which browsers never send to a server: scanning it opens the
ledger's verification page, which checks the receipt on the customer's own device against the
log key they pinned. A lot that is not released (quarantined, rejected, on hold, recalled)
gets no certificate; the refusal says why.

The PDF is built with ReportLab in its invariant mode (no creation time, a fixed document id),
so the same lot and receipt give the same bytes.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import segno
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ledger.errors import ConflictError

if TYPE_CHECKING:
    from ledger.service import Ledger

__all__ = [
    "FRAGMENT_PREFIX",
    "Certificate",
    "build",
    "for_qr",
    "issue",
    "lot_link",
    "read_fragment",
    "receipt_fragment",
    "render",
]

#: The fragment's scheme, as the verification page reads it (web/verify/README.md, "The URL
#: fragment"): ``rz=`` then the receipt JSON compressed with raw DEFLATE (RFC 1951), in
#: base64url without padding (RFC 4648 §5). The page inflates it with the browser's
#: DecompressionStream("deflate-raw").
FRAGMENT_PREFIX = "rz="
#: What the QR code's receipt leaves out: the service's status word, and each anchor's
#: offline block proof (header and receipts-trie nodes, about a third of a receipt; the page
#: shows the anchor as a claim it can confirm with a node the visitor names).
_LEFT_OUT = ("status", "receipt_url")


def for_qr(receipt: dict[str, Any], signer: bool = True) -> dict[str, Any]:
    """The receipt as the QR code carries it (see :data:`_LEFT_OUT`); without the signer's
    grant when ``signer`` is false (then the page names the signer by address only)."""
    out = {k: v for k, v in receipt.items() if k not in _LEFT_OUT and (signer or k != "signer")}
    if isinstance(out.get("anchor"), dict):
        out["anchor"] = {k: v for k, v in out["anchor"].items() if k != "proof"}
    if isinstance(out.get("anchors"), list):
        out["anchors"] = [{k: v for k, v in a.items() if k != "proof"} for a in out["anchors"]]
    return out


def receipt_fragment(receipt: dict[str, Any]) -> str:
    """The URI fragment (without ``#``) that carries ``receipt`` to the verification page."""
    raw = json.dumps(receipt, separators=(",", ":")).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(raw) + packer.flush()
    return FRAGMENT_PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def read_fragment(fragment: str) -> dict[str, Any]:
    """The receipt an ``rz=`` fragment carries (what the page does, for tests and tools)."""
    if not fragment.startswith(FRAGMENT_PREFIX):
        raise ValueError(f"fragment: expected {FRAGMENT_PREFIX!r}, got {fragment[:8]!r}")
    data = fragment.removeprefix(FRAGMENT_PREFIX)
    packed = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    value: dict[str, Any] = json.loads(zlib.decompress(packed, -15))
    return value


def lot_link(base_url: str, gtin: str, lot: str) -> str:
    """The lot's GS1 Digital Link URI on this ledger (its public verification view)."""
    return (
        f"{base_url.rstrip('/')}/01/{urllib.parse.quote(gtin, safe='')}"
        f"/10/{urllib.parse.quote(lot, safe='')}"
    )


@dataclass
class Certificate:
    """What the certificate states (:func:`build`), ready to render."""

    lot: str
    gtin: str
    product_name: str | None
    release: dict[str, Any]
    inspections: list[dict[str, Any]]
    concessions: list[dict[str, Any]]
    receipt: dict[str, Any]
    origin: str
    uri: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "product": {"gtin": self.gtin, "name": self.product_name},
            "release": self.release,
            "inspections": self.inspections,
            "concessions": self.concessions,
            "uri": self.uri,
        }


def build(status: dict[str, Any], views: dict[str, dict[str, Any]], receipt: dict[str, Any],
          origin: str, base_url: str) -> Certificate:
    """The certificate of a lot from its status (:meth:`ledger.reads.Reads.lot`), the views of
    its NCR records (``record_id`` -> :meth:`~ledger.reads.Reads.record_view`, for the
    concessions), and the receipt of its release record. Raises :class:`ConflictError` naming
    why when the lot is not released, or its release is not in the log yet."""
    lot = str(status["lot"])
    state = str(status["state"])
    release = status.get("release")
    if state != "released" or not release or release.get("decision") != "released":
        why = [*status.get("release_blockers", ())]
        why += [str(h.get("why")) for h in status.get("holds", ())]
        why += [f"field action {f['record_id']} ({f['kind']})"
                for f in status.get("field_actions", ())]
        if release and release.get("decision") != "released":
            why.insert(0, f"release decision {release['decision']} ({release['record_id']})")
        raise ConflictError(
            f"certificate of lot {lot}: the lot is {state.replace('_', ' ')}, not released; "
            "only a released lot gets a certificate of conformance",
            reasons=why,
        )
    if receipt.get("status") == "pending" or "leaf_index" not in receipt:
        raise ConflictError(
            f"certificate of lot {lot}: its release {release['record_id']} is not in the log "
            "yet (sealed within seconds): try again"
        )
    product = status.get("product") or {}
    gtin = str(product.get("gtin", ""))
    concessions = []
    for view in views.values():
        body = view.get("current") or {}
        if body.get("type") == "ncr" and body.get("disposition") == "use_as_is":
            c = body.get("concession") or {}
            concessions.append(
                {
                    "record_id": view["record_id"],
                    "ncr_id": body.get("ncr_id"),
                    "characteristics": c.get("characteristics", []),
                    "quantity": c.get("quantity"),
                    "unit": c.get("unit"),
                    "valid_until": c.get("valid_until"),
                    "rationale": body.get("rationale"),
                    "signature": view.get("signature"),
                }
            )
    link = lot_link(base_url, gtin, lot)
    uri = f"{link}#{receipt_fragment(for_qr(receipt))}"
    if qr_code(uri) is None:  # a very large log: two long inclusion proofs; keep the record's
        uri = f"{link}#{receipt_fragment(for_qr(receipt, signer=False))}"
        if qr_code(uri) is None:
            raise ConflictError(
                f"certificate of lot {lot}: its release receipt does not fit a QR code "
                f"({len(uri)} characters)"
            )
    return Certificate(
        lot=lot,
        gtin=gtin,
        product_name=product.get("name"),
        release=release,
        inspections=list(status.get("inspections", ())),
        concessions=concessions,
        receipt=receipt,
        origin=origin,
        uri=uri,
    )


def issue(ledger: Ledger, lot: str, base_url: str) -> Certificate:
    """The certificate of ``lot`` as the ledger holds it now (see :func:`build`)."""
    status = ledger.lot(lot)
    views = {
        t["record_id"]: ledger.reads.record_view(t["record_id"])
        for t in status.get("timeline", ())
        if t.get("type") == "ncr" and t.get("step") == "dispositioned"
    }
    release = status.get("release") or {}
    receipt = ledger.receipt(str(release["record_id"])) if release.get("record_id") else {}
    return build(status, views, receipt, ledger.identity.log_origin, base_url)


# -- rendering --------------------------------------------------------------------------------


def qr_code(data: str) -> segno.QRCode | None:
    """The QR code of ``data``: error correction M (15 %) where it fits, else L (7 %), in
    byte mode; None when it fits no QR code (version 40 at L holds 2,953 bytes)."""
    for level in ("m", "l"):
        try:
            return segno.make(data, error=level, micro=False, boost_error=False)
        except segno.DataOverflowError:
            continue
    return None


class _Qr(Flowable):  # type: ignore[misc]  # ReportLab ships no type information
    """A QR code drawn as vector squares (sharp at any print size), with its quiet zone."""

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        qr = qr_code(data)
        if qr is None:
            raise ValueError(f"certificate: {len(data)} characters fit no QR code")
        self.qr = qr
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        matrix = list(self.qr.matrix)
        n = len(matrix)
        module = self.size / (n + 8)  # four modules of quiet zone on each side
        canvas = self.canv
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    canvas.rect(
                        (x + 4) * module,
                        self.size - (y + 5) * module,
                        module,
                        module,
                        stroke=0,
                        fill=1,
                    )


def _who(sig: dict[str, Any] | None) -> str:
    if not sig:
        return ""
    name = sig.get("printed_name") or sig.get("signer")
    return f"{name}, {sig.get('meaning')}, {sig.get('signed_at')}"


def render(cert: Certificate) -> bytes:
    """The certificate as a one- or two-page A4 PDF (deterministic bytes)."""
    rl_config.invariant = 1
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"Certificate of conformance, lot {cert.lot}",
        author=cert.origin,
        subject=f"GTIN {cert.gtin}, lot {cert.lot}",
        creator="evledger",
    )
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=colors.grey)
    mono = ParagraphStyle("mono", parent=small, fontName="Courier", fontSize=7, leading=9)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontSize=12, spaceBefore=8)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(text, style)

    def esc(value: Any) -> str:
        return (
            str(value if value is not None else "")
            .replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
        )

    grid = TableStyle(
        [
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b8bec6")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    release_sig = cert.release.get("signature") or {}
    facts = Table(
        [
            [p("<b>Lot</b>"), p(esc(cert.lot))],
            [p("<b>Product</b>"), p(f"{esc(cert.product_name)}, GTIN {esc(cert.gtin)}"
                                    if cert.product_name else f"GTIN {esc(cert.gtin)}")],
            [p("<b>Decision</b>"), p("<b>Released</b> for distribution")],
            [p("<b>Released by</b>"), p(esc(_who(release_sig)) + " (UTC)")],
            [p("<b>Release record</b>"), p(esc(cert.release.get("record_id")))],
        ],
        colWidths=[30 * mm, None],
    )
    facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    qr = _Qr(cert.uri, 72 * mm)  # a version-38 code: about 0.4 mm a module
    head = Table(
        [[[p("<font size=18><b>Certificate of conformance</b></font>"), Spacer(1, 6),
           p(f"Issued from the evidence ledger <font face='Courier'>{esc(cert.origin)}</font>",
             small), Spacer(1, 8), facts],
          [qr, p("Scan to verify this release on your own device: the page checks the "
                 "receipt in the code against the ledger's log key, with no server.", small)]]],
        colWidths=[None, 76 * mm],
    )
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story: list[Flowable] = [head, Spacer(1, 6)]
    rows = [[p("<b>Inspection</b>"), p("<b>Stage</b>"), p("<b>Result</b>"),
             p("<b>Performed by (UTC)</b>")]]
    for i in cert.inspections:
        rows.append([p(esc(i["record_id"])), p(esc(i["stage"]).replace("_", " ")),
                     p(esc(i["verdict"])), p(esc(_who(i.get("signature"))))])
    story += [p("Inspections", h2)]
    if len(rows) > 1:
        table = Table(rows, colWidths=[48 * mm, 24 * mm, 16 * mm, None], repeatRows=1)
        table.setStyle(grid)
        story.append(table)
    else:
        story.append(p("No inspection is recorded on this lot."))
    story.append(p("Concessions", h2))
    if cert.concessions:
        for c in cert.concessions:
            story.append(KeepTogether([
                p(f"<b>NCR {esc(c['ncr_id'])}</b>: used as is for "
                  f"{esc(', '.join(c['characteristics']))}, up to {esc(c['quantity'])} "
                  f"{esc(c['unit'])}, valid until {esc(c['valid_until'])}."),
                p(f"Rationale: {esc(c['rationale'])}"),
                p(f"Approved: {esc(_who(c.get('signature')))} (UTC)", small),
                Spacer(1, 4),
            ]))
    else:
        story.append(p("None: every characteristic met its specification."))
    r = cert.receipt
    anchor = r.get("anchor") or next(iter(r.get("anchors") or ()), None)
    proof = [
        f"record {esc(r.get('record_id'))}, SHA-256 {esc(r.get('record_hash'))}",
        f"leaf {esc(r.get('leaf_index'))} of the log tree of size {esc(r.get('tree_size'))}, "
        f"root {esc(r.get('root_hash'))}",
    ]
    if anchor:
        proof.append(
            f"anchored on chain {esc(anchor.get('chain_id'))} in transaction "
            f"{esc(anchor.get('tx_hash'))}, block {esc(anchor.get('block_number'))}"
        )
    story += [
        p("Evidence", h2),
        p("This certificate is issued from signed records in an append-only log whose "
          "checkpoints are anchored on a blockchain. The release record above is proven by:",
          body),
        *(p(line, mono) for line in proof),
        Spacer(1, 6),
        p("To verify offline: <font face='Courier'>evledger-verify receipt receipt.json "
          "--trust trust.json</font>, with the receipt from the code (or from the ledger) and "
          "the trust file you pinned from the manufacturer.", small),
    ]
    doc.build(story)
    return out.getvalue()
