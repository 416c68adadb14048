"""The artifact manifest (schema ``fqai-manifest/1``) as dataclasses with strict validation.

:meth:`Manifest.from_json` enforces everything ``manifest.schema.json`` says, plus the checks a
JSON Schema cannot express (sorted unique tensor names, uint256 range of the federation id, a
real calendar date in ``created_at``). Errors name the JSON path that is wrong.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from eth_utils import is_checksum_address

from fqai.crypto import mldsa
from fqai.encoding import b64decode_strict, b64encode, is_bytes32
from fqai.errors import ManifestError
from fqai.ipfs.cid import CODEC_RAW, is_canonical_cid, parse_cid
from fqai.jcs import MAX_SAFE_INTEGER, canonicalize, utf16_sort_key
from fqai.manifest.quantum import check_model_params
from fqai.weights import DTYPE_SIZES, MAX_DIMS, WEIGHTS_FORMAT, TensorInfo, WeightsInfo

SCHEMA_ID = "fqai-manifest/1"
ENCRYPTION_SCHEME = "AES-256-GCM"
KINDS = ("update", "round-model", "published-model")
MAX_UINT32 = 2**32 - 1
MAX_UINT256 = 2**256 - 1
MAX_PARENTS = 1024
MAX_METRICS = 64
MAX_TENSORS = 4096
MAX_NAME = 256
METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9_.:/+-]{1,128}$")
FEDERATION_ID_RE = re.compile(r"^(0|[1-9][0-9]{0,77})$")
CREATED_AT_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
)


def utc_now() -> str:
    """The current time as RFC 3339 UTC with whole seconds, e.g. ``2025-01-31T12:00:00Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail(path: str, message: str) -> ManifestError:
    return ManifestError(f"manifest {path}: {message}")


def _expect_object(value: Any, path: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    missing = required - set(value)
    if missing:
        raise _fail(path, f"missing field(s) {sorted(missing)}")
    unknown = set(value) - required - optional
    if unknown:
        raise _fail(path, f"unknown field(s) {sorted(unknown)}")
    return value


def _expect_int(value: Any, path: str, minimum: int, maximum: int) -> int:
    if type(value) is not int or not minimum <= value <= maximum:
        raise _fail(path, f"must be an integer in [{minimum}, {maximum}], got {value!r}")
    return value


def _expect_str(value: Any, path: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise _fail(path, f"invalid value {value!r}")
    return value


def _expect_cid(value: Any, path: str, *, raw_only: bool = False) -> str:
    if not is_canonical_cid(value):
        raise _fail(path, f"must be a CIDv1 in base32, got {value!r}")
    if raw_only and parse_cid(value).codec != CODEC_RAW:
        raise _fail(path, f"must be a raw-codec CID (a single block), got {value!r}")
    return value


def _expect_digest(value: Any, path: str) -> str:
    if not is_bytes32(value):
        raise _fail(path, f"must be 0x followed by 64 lower-case hex digits, got {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return (type(value) is int and abs(value) <= MAX_SAFE_INTEGER) or (
        type(value) is float and value == value and value not in (float("inf"), float("-inf"))
    )


@dataclass(frozen=True)
class Encryption:
    """``weights.encryption``: the pinned bytes are the safetensors file encrypted for licensees.

    ``weights.cid``, ``sha256`` and ``size`` then describe the ciphertext (anyone can check it);
    ``plaintext_sha256`` and ``plaintext_size`` the file a licensee decrypts, whose header must
    match ``weights.tensors``.
    """

    plaintext_sha256: str
    plaintext_size: int
    scheme: str = ENCRYPTION_SCHEME

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "plaintext_sha256": self.plaintext_sha256,
            "plaintext_size": self.plaintext_size,
        }

    @classmethod
    def from_json(cls, value: Any, path: str) -> Encryption:
        obj = _expect_object(value, path, {"scheme", "plaintext_sha256", "plaintext_size"}, set())
        if obj["scheme"] != ENCRYPTION_SCHEME:
            raise _fail(f"{path}.scheme", f"must be {ENCRYPTION_SCHEME!r}")
        return cls(
            plaintext_sha256=_expect_digest(obj["plaintext_sha256"], f"{path}.plaintext_sha256"),
            plaintext_size=_expect_int(
                obj["plaintext_size"], f"{path}.plaintext_size", 8, MAX_SAFE_INTEGER
            ),
        )


@dataclass(frozen=True)
class WeightsRef:
    """The ``weights`` section: where the weights are and what they must hash to."""

    cid: str
    sha256: str
    size: int
    tensors: tuple[TensorInfo, ...]
    format: str = WEIGHTS_FORMAT
    encryption: Encryption | None = None

    @property
    def info(self) -> WeightsInfo:
        """As a :class:`~fqai.weights.WeightsInfo` for checking a (decrypted) safetensors file."""
        if self.encryption is not None:
            return WeightsInfo(
                sha256=self.encryption.plaintext_sha256,
                size=self.encryption.plaintext_size,
                tensors=self.tensors,
            )
        return WeightsInfo(sha256=self.sha256, size=self.size, tensors=self.tensors)

    def to_json(self) -> dict[str, Any]:
        optional = {} if self.encryption is None else {"encryption": self.encryption.to_json()}
        return {
            **optional,
            "cid": self.cid,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "tensors": [t.to_json() for t in self.tensors],
        }

    @classmethod
    def from_json(cls, value: Any, path: str = "weights") -> WeightsRef:
        obj = _expect_object(
            value, path, {"cid", "sha256", "size", "format", "tensors"}, {"encryption"}
        )
        if obj["format"] != WEIGHTS_FORMAT:
            raise _fail(f"{path}.format", f"must be {WEIGHTS_FORMAT!r}")
        tensors_raw = obj["tensors"]
        if not isinstance(tensors_raw, list) or not 1 <= len(tensors_raw) <= MAX_TENSORS:
            raise _fail(f"{path}.tensors", f"must be a list of 1..{MAX_TENSORS} tensors")
        tensors = []
        for index, item in enumerate(tensors_raw):
            tpath = f"{path}.tensors[{index}]"
            entry = _expect_object(item, tpath, {"name", "dtype", "shape"}, set())
            name = entry["name"]
            if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
                raise _fail(f"{tpath}.name", f"must be a string of 1..{MAX_NAME} characters")
            if entry["dtype"] not in DTYPE_SIZES:
                raise _fail(f"{tpath}.dtype", f"unsupported dtype {entry['dtype']!r}")
            shape = entry["shape"]
            if not isinstance(shape, list) or len(shape) > MAX_DIMS:
                raise _fail(f"{tpath}.shape", f"must be a list of at most {MAX_DIMS} integers")
            for dim_index, dim in enumerate(shape):
                _expect_int(dim, f"{tpath}.shape[{dim_index}]", 0, MAX_SAFE_INTEGER)
            tensors.append(TensorInfo(name=name, dtype=entry["dtype"], shape=tuple(shape)))
        keys = [utf16_sort_key(t.name) for t in tensors]
        if any(a >= b for a, b in itertools.pairwise(keys)):
            raise _fail(f"{path}.tensors", "must be sorted by name (UTF-16) without duplicates")
        encryption = (
            Encryption.from_json(obj["encryption"], f"{path}.encryption")
            if "encryption" in obj
            else None
        )
        return cls(
            cid=_expect_cid(obj["cid"], f"{path}.cid"),
            sha256=_expect_digest(obj["sha256"], f"{path}.sha256"),
            size=_expect_int(obj["size"], f"{path}.size", 8, MAX_SAFE_INTEGER),
            tensors=tuple(tensors),
            encryption=encryption,
        )


@dataclass(frozen=True)
class ModelSpec:
    """The ``model`` section: a model name plus either inline params or a spec CID."""

    name: str
    params: dict[str, Any] | None = None
    spec_cid: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.params is not None:
            out["params"] = self.params
        if self.spec_cid is not None:
            out["spec_cid"] = self.spec_cid
        return out

    @classmethod
    def from_json(cls, value: Any, path: str = "model") -> ModelSpec:
        obj = _expect_object(value, path, {"name"}, {"params", "spec_cid"})
        name = _expect_str(obj["name"], f"{path}.name", MODEL_NAME_RE)
        if ("params" in obj) == ("spec_cid" in obj):
            raise _fail(path, "needs exactly one of 'params' and 'spec_cid'")
        if "params" in obj:
            if not isinstance(obj["params"], dict):
                raise _fail(f"{path}.params", "must be an object")
            check_model_params(obj["params"], f"{path}.params")
            return cls(name=name, params=obj["params"])
        return cls(name=name, spec_cid=_expect_cid(obj["spec_cid"], f"{path}.spec_cid"))


@dataclass(frozen=True)
class Signer:
    """The ``signer`` section: the ML-DSA-65 key (inline or by CID) and the Ethereum account."""

    key_digest: str
    eth_address: str
    public_key: bytes | None = field(default=None, repr=False)
    public_key_cid: str | None = None
    algorithm: str = mldsa.ALGORITHM

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "algorithm": self.algorithm,
            "key_digest": self.key_digest,
            "eth_address": self.eth_address,
        }
        if self.public_key is not None:
            out["public_key"] = b64encode(self.public_key)
        if self.public_key_cid is not None:
            out["public_key_cid"] = self.public_key_cid
        return out

    @classmethod
    def from_json(cls, value: Any, path: str = "signer") -> Signer:
        obj = _expect_object(
            value,
            path,
            {"algorithm", "key_digest", "eth_address"},
            {"public_key", "public_key_cid"},
        )
        if obj["algorithm"] != mldsa.ALGORITHM:
            raise _fail(f"{path}.algorithm", f"must be {mldsa.ALGORITHM!r}")
        if ("public_key" in obj) == ("public_key_cid" in obj):
            raise _fail(path, "needs exactly one of 'public_key' and 'public_key_cid'")
        address = obj["eth_address"]
        if not isinstance(address, str) or not is_checksum_address(address):
            raise _fail(
                f"{path}.eth_address", f"must be an EIP-55 checksummed address: {address!r}"
            )
        public_key = None
        public_key_cid = None
        if "public_key" in obj:
            try:
                public_key = b64decode_strict(_expect_str(obj["public_key"], f"{path}.public_key"))
            except ValueError as exc:
                raise _fail(f"{path}.public_key", str(exc)) from exc
            if len(public_key) != mldsa.PUBLIC_KEY_SIZE:
                raise _fail(
                    f"{path}.public_key",
                    f"must decode to {mldsa.PUBLIC_KEY_SIZE} bytes, got {len(public_key)}",
                )
        else:
            public_key_cid = _expect_cid(
                obj["public_key_cid"], f"{path}.public_key_cid", raw_only=True
            )
        return cls(
            key_digest=_expect_digest(obj["key_digest"], f"{path}.key_digest"),
            eth_address=address,
            public_key=public_key,
            public_key_cid=public_key_cid,
        )


@dataclass(frozen=True)
class Manifest:
    """An artifact manifest: what the weights are, where they come from, who produced them."""

    kind: str
    federation_id: str
    round: int
    weights: WeightsRef
    model: ModelSpec
    signer: Signer
    created_at: str
    parents: tuple[str, ...] = ()
    metrics: dict[str, int | float] = field(default_factory=dict)
    round_report: str | None = None
    schema: str = SCHEMA_ID

    def to_json(self) -> dict[str, Any]:
        """The JSON object that is canonicalised and signed."""
        optional = {} if self.round_report is None else {"round_report": self.round_report}
        return {
            **optional,
            "schema": self.schema,
            "kind": self.kind,
            "federation_id": self.federation_id,
            "round": self.round,
            "weights": self.weights.to_json(),
            "model": self.model.to_json(),
            "parents": list(self.parents),
            "metrics": dict(self.metrics),
            "signer": self.signer.to_json(),
            "created_at": self.created_at,
        }

    def canonical_bytes(self) -> bytes:
        """RFC 8785 canonical bytes of :meth:`to_json` (the signed payload)."""
        return canonicalize(self.to_json())

    def validate(self) -> Manifest:
        """Re-validate by a JSON round trip; return the parsed copy."""
        return Manifest.from_json(self.to_json())

    @classmethod
    def from_json(cls, value: Any) -> Manifest:
        """Parse and validate a manifest object.

        Raises
        ------
        ManifestError
            Naming the first field that violates the schema.
        """
        obj = _expect_object(
            value,
            "$",
            {
                "schema",
                "kind",
                "federation_id",
                "round",
                "weights",
                "model",
                "parents",
                "metrics",
                "signer",
                "created_at",
            },
            {"round_report"},
        )
        if obj["schema"] != SCHEMA_ID:
            raise _fail("schema", f"unsupported schema {obj['schema']!r}, expected {SCHEMA_ID!r}")
        if obj["kind"] not in KINDS:
            raise _fail("kind", f"must be one of {list(KINDS)}, got {obj['kind']!r}")
        federation_id = _expect_str(obj["federation_id"], "federation_id", FEDERATION_ID_RE)
        if int(federation_id) > MAX_UINT256:
            raise _fail("federation_id", "exceeds uint256")
        parents_raw = obj["parents"]
        if not isinstance(parents_raw, list) or len(parents_raw) > MAX_PARENTS:
            raise _fail("parents", f"must be a list of at most {MAX_PARENTS} CIDs")
        parents = tuple(
            _expect_cid(p, f"parents[{i}]", raw_only=True) for i, p in enumerate(parents_raw)
        )
        if len(set(parents)) != len(parents):
            raise _fail("parents", "contains duplicates")
        metrics = obj["metrics"]
        if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
            raise _fail("metrics", f"must be an object with at most {MAX_METRICS} entries")
        for name, number in metrics.items():
            _expect_str(name, f"metrics key {name!r}", METRIC_NAME_RE)
            if not _is_number(number):
                raise _fail(f"metrics.{name}", f"must be a finite number, got {number!r}")
        round_report = None
        if "round_report" in obj:
            if obj["kind"] != "round-model":
                raise _fail("round_report", "only a round-model manifest links a round report")
            round_report = _expect_cid(obj["round_report"], "round_report", raw_only=True)
        created_at = _expect_str(obj["created_at"], "created_at", CREATED_AT_RE)
        try:
            dt.datetime.strptime(created_at[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError as exc:
            raise _fail("created_at", f"not a valid date-time: {created_at!r}") from exc
        return cls(
            schema=SCHEMA_ID,
            kind=obj["kind"],
            federation_id=federation_id,
            round=_expect_int(obj["round"], "round", 0, MAX_UINT32),
            weights=WeightsRef.from_json(obj["weights"]),
            model=ModelSpec.from_json(obj["model"]),
            parents=parents,
            metrics=dict(metrics),
            signer=Signer.from_json(obj["signer"]),
            created_at=created_at,
            round_report=round_report,
        )
