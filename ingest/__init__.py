"""Shop-floor side of evledger: what runs on a line PC, without the server stack.

:mod:`ingest.client` is the client library the ``evledger`` CLI, the demo and the ingesters
(scanners, PLC gateways) share: key files, EIP-712 signing, read tokens, and the HTTP API with
retries that re-send the same signed submission. It imports the verifier package and ``httpx``
only (import-linter keeps it so).

    >>> from ingest.client import SigningKey
    >>> key = SigningKey(bytes(31) + b"\\x01")
    >>> key.address
    '0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf'
"""
