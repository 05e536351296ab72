"""Records, their RFC 8785 hash, EIP-712 signatures, and the log entry that binds them.

A record is a JSON object. Its hash is SHA-256 of its RFC 8785 (JCS) canonical form. A person or
device signs EIP-712 typed data binding the record id, type and hash, the signer's *meaning*
and the signing time; the domain binds the chain id and the ledger's contract, so a signature
is only valid for one ledger. The sealer logs an *entry* (also JCS) that carries the record
hash, the signature and a random salt; the Merkle leaf is ``SHA-256(0x00 || JCS(entry))``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NewType

import coincurve
import rfc8785
from Crypto.Hash import keccak as _keccak

from evledger_verify import strictjson
from evledger_verify.errors import FormatError, SignatureInvalidError
from evledger_verify.jcs import canonicalize
from evledger_verify.merkle import LeafHash, leaf_hash

__all__ = [
    "EIP712_DOMAIN_NAME",
    "EIP712_DOMAIN_VERSION",
    "ENTRY_FORMAT",
    "Domain",
    "Entry",
    "RecordHash",
    "canonical_json",
    "checksum_address",
    "eip712_digest",
    "keccak256",
    "normalize_signature",
    "record_hash",
    "recover_signer",
    "typed_data",
]

ENTRY_FORMAT = "evledger-entry/1"
EIP712_DOMAIN_NAME = "evledger"
EIP712_DOMAIN_VERSION = "1"
MAX_RECORD_BYTES = 256 * 1024

RecordHash = NewType("RecordHash", bytes)

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}\Z")
_HEX32_RE = re.compile(r"^[0-9a-f]{64}\Z")
_SIG_RE = re.compile(r"^0x[0-9a-fA-F]{130}\Z")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_RECORD_TYPE = (
    "EvidenceRecord(string recordId,string recordType,bytes32 recordHash,string meaning,"
    "uint64 signedAt)"
)


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


_DOMAIN_TYPEHASH = keccak256(_DOMAIN_TYPE.encode())
_RECORD_TYPEHASH = keccak256(_RECORD_TYPE.encode())
_DOMAIN_NAME_HASH = keccak256(EIP712_DOMAIN_NAME.encode())
_DOMAIN_VERSION_HASH = keccak256(EIP712_DOMAIN_VERSION.encode())


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes (:func:`evledger_verify.jcs.canonicalize`, the same bytes
    as ``rfc8785.dumps``). A value nested too deeply to serialize is a format error too."""
    try:
        return canonicalize(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        raise FormatError(f"canonical JSON: cannot canonicalize: {exc}") from exc


def record_hash(record: Mapping[str, Any]) -> RecordHash:
    """SHA-256 of the record's RFC 8785 canonical form."""
    return RecordHash(hashlib.sha256(canonical_json(dict(record))).digest())


def checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address."""
    if not _ADDRESS_RE.match(address):
        raise FormatError(f"address: expected 0x and 40 hex digits, got {address!r}")
    return _checksum(address[2:].lower())


@functools.lru_cache(maxsize=1024)
def _checksum(lower: str) -> str:
    """EIP-55 of 40 lowercase hex digits: a letter is upper case where the nibble of
    ``keccak256(lower)`` at its position is 8 or more (``upper`` is a no-op on digits).
    Remembered: a ledger sees the same few signers over and over."""
    digest = keccak256(lower.encode()).hex()[:40]
    return "0x" + "".join([c.upper() if h > "7" else c for c, h in zip(lower, digest, strict=True)])


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of one ledger: its chain and its anchor contract."""

    chain_id: int
    contract: str

    def separator(self) -> bytes:
        return _domain_separator(self.chain_id, self.contract)


@functools.lru_cache(maxsize=64)
def _domain_separator(chain_id: int, contract: str) -> bytes:
    """``Domain.separator``, computed once per domain (a ledger has one)."""
    return keccak256(
        _DOMAIN_TYPEHASH
        + _DOMAIN_NAME_HASH
        + _DOMAIN_VERSION_HASH
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(checksum_address(contract)[2:])
    )


@functools.lru_cache(maxsize=256)
def _keccak_text_cached(text: str) -> bytes:
    return keccak256(text.encode())


def _keccak_text(text: str, cache: bool = False) -> bytes:
    """keccak256 of UTF-8 ``text``; remembered for the few short values that recur (the record
    type, the meaning), computed afresh for the rest (record ids are unique)."""
    if cache and len(text) <= 64:
        return _keccak_text_cached(text)
    return keccak256(text.encode())


def eip712_digest(
    domain: Domain, record_id: str, record_type: str, rhash: bytes, meaning: str, signed_at: int
) -> bytes:
    """The 32-byte digest a wallet signs for this record (EIP-712 ``hashTypedData``)."""
    if len(rhash) != 32:
        raise FormatError(f"record hash: expected 32 bytes, got {len(rhash)}")
    if not 0 <= signed_at < 2**64:
        raise FormatError(f"signing time: expected a uint64, got {signed_at}")
    struct = keccak256(
        _RECORD_TYPEHASH
        + _keccak_text(record_id)
        + _keccak_text(record_type, cache=True)
        + rhash
        + _keccak_text(meaning, cache=True)
        + signed_at.to_bytes(32, "big")
    )
    return keccak256(b"\x19\x01" + domain.separator() + struct)


def typed_data(
    domain: Domain, record_id: str, record_type: str, rhash: bytes, meaning: str, signed_at: int
) -> dict[str, Any]:
    """The EIP-712 JSON (``eth_signTypedData_v4``) a wallet or ``cast wallet sign --data`` signs."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "EvidenceRecord": [
                {"name": "recordId", "type": "string"},
                {"name": "recordType", "type": "string"},
                {"name": "recordHash", "type": "bytes32"},
                {"name": "meaning", "type": "string"},
                {"name": "signedAt", "type": "uint64"},
            ],
        },
        "primaryType": "EvidenceRecord",
        "domain": {
            "name": EIP712_DOMAIN_NAME,
            "version": EIP712_DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": checksum_address(domain.contract),
        },
        "message": {
            "recordId": record_id,
            "recordType": record_type,
            "recordHash": "0x" + rhash.hex(),
            "meaning": meaning,
            "signedAt": signed_at,
        },
    }


def normalize_signature(signature: str) -> str:
    """Lowercase hex with v as 27/28: wallets that return v as 0/1 are mapped to the one
    encoding the ledger logs and the verifier accepts."""
    if _SIG_RE.match(signature) and signature[-2:] in ("00", "01"):
        return (signature[:-2] + format(int(signature[-2:], 16) + 27, "02x")).lower()
    return signature.lower()


def recover_signer(digest: bytes, signature: str) -> str:
    """The checksummed address whose key made ``signature`` (65 bytes r||s||v) over ``digest``.

    High-s signatures are refused (EIP-2), so a signature has exactly one valid encoding.
    """
    if not _SIG_RE.match(signature):
        raise SignatureInvalidError(
            f"signature: expected 0x and 130 hex digits (65 bytes), got {signature[:20]!r}..."
        )
    raw = bytes.fromhex(signature[2:])
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64] - 27
    if v not in (0, 1):
        raise SignatureInvalidError(f"signature: expected v of 27 or 28, got {raw[64]}")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        raise SignatureInvalidError("signature: r or s out of range (high-s is not accepted)")
    try:
        pub = coincurve.PublicKey.from_signature_and_message(
            raw[:64] + bytes([v]), digest, hasher=None
        )
    except Exception as exc:  # coincurve raises bare Exception on unrecoverable input
        raise SignatureInvalidError(f"signature: no public key can be recovered: {exc}") from exc
    return _checksum(keccak256(pub.format(compressed=False)[1:])[-20:].hex())


_ENTRY_KEYS: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "record_id": str,
    "record_type": str,
    "record_hash": str,
    "lot": (str, type(None)),
    "lot_prev": (str, type(None)),
    "signer": str,
    "meaning": str,
    "signed_at": int,
    "signature": str,
    "salt": str,
    "accepted_at": str,
}


@dataclass(frozen=True)
class Entry:
    """One logged entry: what the Merkle leaf commits to."""

    record_id: str
    record_type: str
    record_hash: str
    lot: str | None
    #: Leaf hash (hex) of the previous record of the same lot; None for a lot's first record.
    #: A lot's records form a chain, so leaving one out of an export is detectable.
    lot_prev: str | None
    signer: str
    meaning: str
    signed_at: int
    signature: str
    salt: str
    accepted_at: str

    def to_json(self) -> dict[str, Any]:
        return {"format": ENTRY_FORMAT, **self.__dict__}

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    def leaf_hash(self) -> LeafHash:
        return leaf_hash(self.canonical())

    def digest(self, domain: Domain) -> bytes:
        return eip712_digest(
            domain,
            self.record_id,
            self.record_type,
            bytes.fromhex(self.record_hash),
            self.meaning,
            self.signed_at,
        )

    def verify_signature(self, domain: Domain) -> None:
        """Raise unless ``signature`` was made by ``signer`` over this entry's record."""
        recovered = recover_signer(self.digest(domain), self.signature)
        if recovered.lower() != self.signer.lower():
            raise SignatureInvalidError(
                f"record signature: expected signer {self.signer}, signature is by {recovered}"
            )

    @classmethod
    def from_json(cls, value: Any) -> Entry:
        if not isinstance(value, dict):
            raise FormatError("entry: expected a JSON object")
        if value.get("format") != ENTRY_FORMAT:
            raise FormatError(
                f"entry format: expected {ENTRY_FORMAT!r}, got {value.get('format')!r}"
            )
        if set(value) != set(_ENTRY_KEYS):
            missing = sorted(set(_ENTRY_KEYS) - set(value))
            extra = sorted(set(value) - set(_ENTRY_KEYS))
            raise FormatError(f"entry: missing keys {missing}, unknown keys {extra}")
        for key, typ in _ENTRY_KEYS.items():
            if not isinstance(value[key], typ) or isinstance(value[key], bool):
                raise FormatError(f"entry {key}: wrong type {type(value[key]).__name__}")
        if not _HEX32_RE.match(value["record_hash"]) or not _HEX32_RE.match(value["salt"]):
            raise FormatError("entry: record_hash and salt must be 64 lowercase hex digits")
        if value["lot_prev"] is not None and (
            value["lot"] is None or not _HEX32_RE.match(value["lot_prev"])
        ):
            raise FormatError("entry lot_prev: expected 64 lowercase hex digits, in a lot")
        if not _ADDRESS_RE.match(value["signer"]):
            raise FormatError(f"entry signer: expected an address, got {value['signer']!r}")
        fields = {k: v for k, v in value.items() if k != "format"}
        return cls(**fields)


def load_record_file(text: str | bytes) -> dict[str, Any]:
    """Parse a record file strictly (:func:`evledger_verify.strictjson.loads`): one JSON
    object, bounded size and depth, no duplicate keys."""
    if len(text) > MAX_RECORD_BYTES:
        raise FormatError(f"record: expected at most {MAX_RECORD_BYTES} bytes, got {len(text)}")
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        value = strictjson.loads(data)
    except FormatError as exc:
        raise FormatError(f"record: {exc}") from None
    if not isinstance(value, dict):
        raise FormatError(f"record: expected a JSON object, got {type(value).__name__}")
    return value
