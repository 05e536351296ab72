"""The service's pages: the landing page (``/``), the verification page (``/verify``) and the
API docs (``/docs``), each with a Content-Security-Policy that allows its own inline code only.

The landing page is made here from the ledger's trust file (no external assets, no script).
The verification page is one static file built by ``make setup`` (``web/dist/verify.html``);
its policy allows exactly the inline ``<script>`` and ``<style>`` elements of that file, by
their SHA-256 (computed when the file is first served, again when it changes):

>>> page = "<style>p{}</style><script>go()</script><p>hi</p>"
>>> sorted(csp_sources(page).scripts)
["'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"]

The API docs are Swagger UI, served with its assets from ``node_modules/swagger-ui-dist``
(npm, pinned in package.json), so they work in a plant without internet.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi.openapi.docs import get_swagger_ui_html

__all__ = [
    "DOCS_ASSETS",
    "PAGE_HEADERS",
    "CspSources",
    "StaticPage",
    "csp_sources",
    "docs_page",
    "landing_page",
    "verify_csp",
]

#: Headers every page gets besides its policy: no MIME sniffing, no referrer sent anywhere
#: (the verification page may call an RPC URL the visitor types), no framing.
PAGE_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _sha256_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@dataclass(frozen=True)
class CspSources:
    """The hash sources of a page's inline code: ``<script>`` elements without ``src``,
    ``<style>`` elements, and ``style`` attributes."""

    scripts: frozenset[str] = frozenset()
    styles: frozenset[str] = frozenset()
    style_attributes: frozenset[str] = frozenset()
    #: Inline event handlers (``onclick=...``) found: the policy does not allow them.
    handlers: tuple[str, ...] = field(default=())


class _Inline(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        for name, value in attrs:
            if name == "style" and value is not None:
                self.style_attributes.append(value)
            elif name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
        if (tag == "script" and "src" not in names) or tag == "style":
            self._open = (tag, [])

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and self._open[0] == tag:
            text = "".join(self._open[1])
            (self.scripts if tag == "script" else self.styles).append(text)
            self._open = None


def csp_sources(page: str) -> CspSources:
    """The hash sources a policy needs for ``page``'s inline scripts and styles.

    Browsers hash an element's text as parsed: line breaks normalized to LF, character
    references not decoded (script and style contents are raw text), UTF-8 encoded."""
    parser = _Inline()
    parser.feed(page.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    return CspSources(
        scripts=frozenset(_sha256_source(s) for s in parser.scripts),
        styles=frozenset(_sha256_source(s) for s in parser.styles),
        # Attribute values are hashed as decoded (they are not raw text).
        style_attributes=frozenset(
            _sha256_source(html.unescape(s)) for s in parser.style_attributes
        ),
        handlers=tuple(parser.handlers),
    )


def _sources(hashes: frozenset[str]) -> str:
    return " ".join(sorted(hashes)) if hashes else "'none'"


def verify_csp(sources: CspSources) -> str:
    """The verification page's policy: its own inline scripts and styles (by hash), nothing
    loaded from anywhere, and ``connect-src`` open to any http(s) URL.

    ``connect-src 'self' https: http:``: the page can check an anchor on chain through an RPC
    URL the visitor types (their own node, often ``http://localhost:8545`` or a LAN address
    in a plant, or any public HTTPS provider), which cannot be listed in advance. Connecting
    runs no code: scripts are limited to the file's own, so no other script can use it."""
    styles = " ".join(
        filter(
            None,
            [
                _sources(sources.styles | sources.style_attributes),
                "'unsafe-hashes'" if sources.style_attributes else "",
            ],
        )
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sources(sources.scripts)}",
            f"style-src {styles}",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            "connect-src 'self' https: http:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class StaticPage:
    """A page built outside the service (``web/dist/verify.html``), read when first served and
    again whenever its size or modification time changes; None while it does not exist."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple[int, int] | None = None
        self._page: tuple[bytes, CspSources] | None = None

    def load(self) -> tuple[bytes, CspSources] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        if key != self._key or self._page is None:
            try:
                data = self.path.read_bytes()
            except OSError:
                return None
            self._page = (data, csp_sources(data.decode("utf-8", "replace")))
            self._key = key
        return self._page


# -- the landing page -------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fdfdfc; --muted: #57606a;
  --line: #d0d7de; --accent: #0b5cad; --panel: #f3f5f7; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #30363d;
    --accent: #6cb6ff; --panel: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 46rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1.5rem; }
.brand { margin: 0; font-weight: 600; letter-spacing: .04em; color: var(--muted); }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .25rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-top: .5rem;
  border-top: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.25rem 0 .25rem; }
a { color: var(--accent); }
a:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
code, pre { font: .9em/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
dd code { overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: .75rem; overflow-x: auto; white-space: pre; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; margin: 1rem 0 0;
  list-style: none; }
.actions a { display: inline-block; padding: .55rem .9rem; border: 1px solid var(--accent);
  border-radius: 6px; text-decoration: none; font-weight: 600; }
.actions a.primary { background: var(--accent); color: var(--bg); }
.note { border-left: 4px solid #b08800; background: var(--panel); padding: .6rem .8rem;
  margin: 1rem 0; }
footer { color: var(--muted); font-size: .9rem; padding-bottom: 2rem; }
@media (max-width: 30rem) {
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  dl { grid-template-columns: 1fr; gap: 0; }
  dd { margin-bottom: .6rem; }
  h1 { font-size: 1.35rem; }
}
"""

#: The landing page's policy: its one inline style block, nothing else (no script at all).
LANDING_CSP = "; ".join(
    [
        "default-src 'none'",
        f"style-src {_sha256_source(_STYLE)}",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def _code(value: Any) -> str:
    return f"<code>{html.escape(str(value))}</code>"


def landing_page(trust: Mapping[str, Any]) -> str:
    """The landing page of the ledger whose trust file is ``trust``."""
    rows = [
        ("Log origin", _code(trust.get("log_origin", ""))),
        ("Log public key", _code(trust.get("log_public_key", ""))),
        ("Chain id", _code(trust.get("chain_id", ""))),
        ("Anchor contract", _code(trust.get("contract", ""))),
    ]
    for chain in trust.get("chains", [])[1:]:
        rows.append(
            (f"Also anchored on chain {html.escape(str(chain.get('chain_id')))}",
             _code(chain.get("contract", "")))
        )  # fmt: skip
    identity = "\n".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>evledger: evidence ledger for quality records</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<p class="brand">evledger</p>
<h1>Evidence ledger for manufacturing quality records</h1>
</header>
<main>
<section aria-labelledby="what">
<h2 id="what">What this is</h2>
<p>This service keeps the quality records of a manufacturer (inspections, nonconformances,
CAPAs, changes, lot releases, scans from the shop floor), each signed by the person or device
that made it. Every record is appended to a public, append-only Merkle log whose checkpoints
are signed and anchored on a blockchain, so anyone holding a record's receipt can check that
the record is exactly what was logged, when it was logged, without trusting this server.
Record contents stay private: receipts and proofs are public, record bodies need a read
token.</p>
</section>
<section aria-labelledby="identity">
<h2 id="identity">This ledger</h2>
<dl>
{identity}
</dl>
<ul class="actions">
<li><a class="primary" href="/v1/trust" download="evledger-trust.json">Download the trust
file</a></li>
</ul>
<p class="note"><strong>Pin it, don't trust it blindly.</strong> The trust file names the
log key and the anchor contract that receipts are checked against. This copy comes from the
server whose records you want to check, so compare it with one you got from the manufacturer
another way (a contract, a signed letter, a call) before you rely on it. Once it matches, keep
it and use that copy for every check.</p>
</section>
<section aria-labelledby="verify">
<h2 id="verify">Verify a receipt</h2>
<ul class="actions">
<li><a class="primary" href="/verify">Open the verification page</a></li>
<li><a href="/docs">API documentation</a></li>
</ul>
<p>The verification page checks a receipt (and the record, if you have it) in your browser:
nothing is sent to this server. Save it and it works offline too.</p>
<h3>Offline, with <code>evledger-verify</code></h3>
<p>The standalone verifier is a small Python program that needs no server and no chain
node. Install it from the evledger source (<code>verifier/</code>) or the wheel you were
given, then:</p>
<pre><code>python3 -m venv v &amp;&amp; v/bin/pip install ./verifier
v/bin/evledger-verify receipt RECEIPT.json --record RECORD.json --trust TRUST.json
v/bin/evledger-verify bundle BUNDLE.zip --trust TRUST.json</code></pre>
<p>Exit code 0: verified; 1: verification failed (each failing check is named);
2: could not check. Add <code>--rpc URL</code> to also confirm the anchor against a chain
node you choose.</p>
</section>
<section aria-labelledby="api">
<h2 id="api">For integrators</h2>
<p>The <a href="/docs">API documentation</a> is served by this service (it works without
internet); the OpenAPI description is at <a href="/openapi.json"><code>/openapi.json</code></a>.
Receipts, checkpoints and proofs are public; record bodies, lots and the signer registry need
a read token (<code>Authorization: Bearer</code>, made with <code>evledger token</code>).</p>
</section>
</main>
<footer>
<p>evledger · <a href="/healthz">health</a> · <a href="/metrics">metrics</a></p>
</footer>
</body>
</html>
"""


# -- the API docs -----------------------------------------------------------------------------

#: The Swagger UI files served under ``/docs/assets/``, with their media types.
DOCS_ASSETS: Mapping[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}


def docs_page(openapi_url: str, title: str) -> tuple[bytes, str]:
    """Swagger UI's page with its assets served by the service, and its policy: scripts and
    styles from the service itself plus the page's one inline script (by hash); Swagger UI
    sets ``style`` attributes, so inline styles are allowed. No online validator."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    ).body
    body = bytes(page)
    sources = csp_sources(body.decode("utf-8"))
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {_sources(sources.scripts)}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return body, csp
