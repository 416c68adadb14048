"""Hostile input to the trust layer: manifests, canonical JSON, signatures, CIDs, keystores.

Property tests (hypothesis) feed random and hostile JSON to the envelope parser and random edits
of a signed envelope to the verifier: the only outcomes are the project's own errors, and nothing
but the original bytes verifies. 1 000 manifests signed with pqcrypto are verified with an
independent ML-DSA (pyca/cryptography). Unexpected CID forms and damaged keystore files are
refused with errors that name the problem.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa as pyca_mldsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fqai.errors import DigestMismatchError, KeystoreError, ManifestError, SignatureError
from fqai.ipfs.cid import cid_for_raw_block, parse_cid
from fqai.jcs import canonicalize, parse_canonical
from fqai.keystore import Keystore, NodeIdentity
from fqai.keystore.store import ETH_FILE, MLDSA_FILE, MLKEM_FILE
from fqai.manifest import envelope as envelope_module
from fqai.manifest.envelope import (
    MAX_ENVELOPE_SIZE,
    SIGNING_CONTEXT,
    SignedManifest,
    parse_envelope,
    sign_manifest,
    verify_envelope_signature,
)
from fqai.manifest.model import Manifest
from fqai.weights import describe_file, save_weights

from .conftest import FAST_ETH_N, FAST_KDF, PASSPHRASE, build_manifest, make_tensors

TRUST_ERRORS = (ManifestError, SignatureError, DigestMismatchError)
CROSS_CHECKED = 1_000

hostile_json = pytest.mark.attack(
    "hostile-manifest-json",
    actor="anyone publishing a manifest",
    attack="hostile JSON (duplicate keys, 5 000-digit integers, NaN, non-UTF-8, 100 000-deep "
    "nesting, oversized documents) crashes or fools the verifier",
    control="size cap before parsing; strict canonical JSON parser; schema",
)


@pytest.fixture(scope="module")
def base_manifest(identity: NodeIdentity, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    path = tmp_path_factory.mktemp("security") / "weights.safetensors"
    save_weights(make_tensors(0), path)
    return build_manifest(identity, describe_file(path), cid_for_raw_block(b"weights"))


@pytest.fixture(scope="module")
def signed(base_manifest: Manifest, identity: NodeIdentity) -> SignedManifest:
    return sign_manifest(base_manifest, identity.mldsa)


def _outcome(data: bytes, public_key: bytes) -> str:
    """'verified' or the name of the project error; anything else propagates (a crash)."""
    try:
        parsed = parse_envelope(data, "fuzz")
        verify_envelope_signature(parsed, public_key, "fuzz")
    except TRUST_ERRORS as exc:
        return type(exc).__name__
    return "verified"


# -- canonical JSON and the envelope parser ------------------------------------------------------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


@hostile_json
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_value)
def test_random_json_never_crashes_the_envelope_parser(value: Any, signed: SignedManifest) -> None:
    for data in (
        json.dumps(value, allow_nan=True).encode(),
        json.dumps({"manifest": value, "signature": value}).encode(),
    ):
        with pytest.raises(ManifestError):
            parse_envelope(data, "fuzz")


@hostile_json
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_never_crash_the_envelope_parser(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_envelope(data, "fuzz")


@hostile_json
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("duplicate key", b'{"manifest":{},"manifest":{}}', "duplicate object key"),
        ("long integer", b'{"a":' + b"7" * 5000 + b"}", "integer literal"),
        ("negative long integer", b'{"a":-' + b"9" * 40 + b"}", "integer literal"),
        ("NaN", b'{"a":NaN}', "NaN is not allowed"),
        ("Infinity", b'{"a":-Infinity}', "Infinity is not allowed"),
        ("non-UTF-8", b'{"a":"\xff\xfe"}', "not valid UTF-8"),
        ("byte order mark", b'\xef\xbb\xbf{"a":1}', "byte order mark"),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000, None),
        ("unpaired surrogate", b'{"a":"\\ud800"}', None),
        ("trailing data", b'{"a":1} {}', "not valid JSON"),
    ],
)
def test_hostile_constructs_are_refused_by_name(
    name: str, data: bytes, message: str | None
) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_envelope(data, "fuzz")
    assert str(caught.value).startswith("fuzz: ")
    if message is not None:
        assert message in str(caught.value)


@hostile_json
def test_size_cap_applies_before_any_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pure unit test: an oversized document never reaches the JSON parser."""

    def parser_must_not_run(_: bytes) -> Any:
        raise AssertionError("parsed a document above the size cap")

    monkeypatch.setattr(envelope_module, "parse_canonical", parser_must_not_run)
    long_string = b'{"a":"' + b"x" * MAX_ENVELOPE_SIZE + b'"}'
    with pytest.raises(ManifestError, match="above the 262144-byte cap"):
        parse_envelope(long_string, "fuzz")


@settings(max_examples=300, deadline=None)
@given(value=json_value)
def test_canonical_form_round_trips_or_is_refused(value: Any) -> None:
    try:
        data = canonicalize(value)
    except ManifestError:
        return  # NaN, infinities, integers beyond 2**53, lone surrogates: no canonical form
    assert parse_canonical(data) == value
    assert canonicalize(parse_canonical(data)) == data


# -- signatures ------------------------------------------------------------------------------------

forgery = pytest.mark.attack(
    "edited-signed-manifest",
    actor="anyone relaying a manifest (IPFS node, gateway, coordinator)",
    attack="edit a signed manifest (metrics, weights digest, signer) or its signature",
    control="ML-DSA-65 signature over the RFC 8785 canonical bytes, context fqai-manifest-v1",
)


@forgery
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=4)
)
def test_no_byte_edit_of_a_signed_envelope_verifies(
    edits: list[tuple[int, int]], signed: SignedManifest, identity: NodeIdentity
) -> None:
    data = bytearray(signed.envelope_bytes)
    for position, flip in edits:
        data[position % len(data)] ^= flip
    outcome = _outcome(bytes(data), identity.mldsa.public_key)
    assert outcome != "verified" or bytes(data) == signed.envelope_bytes


@forgery
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    accuracy=st.floats(min_value=0, max_value=1),
    samples=st.integers(min_value=1, max_value=2**40),
    name=st.from_regex(r"[A-Za-z0-9_.:/+-]{1,40}", fullmatch=True),
)
def test_a_manifest_edited_and_re_encoded_never_verifies(
    accuracy: float, samples: int, name: str, signed: SignedManifest, identity: NodeIdentity
) -> None:
    document = json.loads(signed.envelope_bytes)
    document["manifest"]["metrics"] = {"accuracy": accuracy, "samples": samples}
    document["manifest"]["model"]["name"] = name
    data = canonicalize(document)
    outcome = _outcome(data, identity.mldsa.public_key)
    assert outcome in ("verified", "SignatureError")
    assert (outcome == "verified") == (data == signed.envelope_bytes)


@forgery
def test_another_key_never_verifies(signed: SignedManifest, other_identity: NodeIdentity) -> None:
    assert _outcome(signed.envelope_bytes, other_identity.mldsa.public_key) == "DigestMismatchError"


def test_thousand_manifests_verify_with_an_independent_ml_dsa(
    base_manifest: Manifest, identity: NodeIdentity
) -> None:
    """pqcrypto signs; pyca/cryptography (OpenSSL's ML-DSA) verifies every one, and rejects it
    under another context or with one payload byte changed."""
    verifier = pyca_mldsa.MLDSA65PublicKey.from_public_bytes(identity.mldsa.public_key)
    base = base_manifest
    rejected = 0
    for i in range(CROSS_CHECKED):
        manifest = dataclasses.replace(
            base, round=i + 1, metrics={"accuracy": (i % 997) / 997, "samples": 1 + i * 7919}
        )
        item = sign_manifest(manifest, identity.mldsa)
        verifier.verify(item.signature, item.payload_bytes, SIGNING_CONTEXT)
        if i % 100 == 0:
            for payload, context in (
                (item.payload_bytes, b"fqai-round-report-v1"),
                (item.payload_bytes[:-2] + b"0}", SIGNING_CONTEXT),
            ):
                with pytest.raises(InvalidSignature):
                    verifier.verify(item.signature, payload, context)
                rejected += 1
    assert rejected == 2 * CROSS_CHECKED // 100


# -- CIDs ------------------------------------------------------------------------------------------


def _cidv1(codec: int, hash_code: int, digest: bytes) -> str:
    raw = bytes([1, codec, hash_code, len(digest)]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


@pytest.mark.attack(
    "unexpected-cid",
    actor="a publisher or IPFS node",
    attack="a CID whose bytes are not hashed (identity multihash), another hash or codec, "
    "or a truncated digest, so other bytes pass as the named content",
    control="CID parser accepts only CIDv0/CIDv1, raw or dag-pb, sha2-256 of 32 bytes",
)
@pytest.mark.parametrize(
    ("name", "cid", "message"),
    [
        ("identity multihash", _cidv1(0x55, 0x00, b"inline bytes, not a hash"), "multihash"),
        ("sha3-256", _cidv1(0x55, 0x16, bytes(32)), "multihash"),
        (
            "blake2b-256",
            "b"
            + base64.b32encode(bytes([1, 0x55, 0xA0, 0xE4, 0x02, 32]) + bytes(32))
            .decode()
            .lower()
            .rstrip("="),
            "multihash",
        ),
        ("dag-cbor codec", _cidv1(0x71, 0x12, bytes(32)), "unsupported codec 0x71"),
        ("truncated digest", _cidv1(0x55, 0x12, bytes(20)), ""),
        ("base32upper multibase", cid_for_raw_block(b"x").upper(), "unsupported multibase"),
        ("mixed-case base32", "b" + cid_for_raw_block(b"x")[1:].upper(), "lower case"),
        ("base16 multibase", "f01551220" + "00" * 32, "unsupported multibase"),
        (
            "CIDv2",
            "b"
            + base64.b32encode(bytes([2, 0x55, 0x12, 32]) + bytes(32)).decode().lower().rstrip("="),
            "version",
        ),
    ],
)
def test_unexpected_cids_are_refused(name: str, cid: str, message: str) -> None:
    with pytest.raises(ManifestError, match="not a supported CID") as caught:
        parse_cid(cid)
    assert message in str(caught.value)


# -- keystores -------------------------------------------------------------------------------------

stolen = pytest.mark.attack(
    "damaged-or-guessed-keystore",
    actor="someone holding a copy of a keystore, or a damaged disk",
    attack="unlock with a wrong passphrase; load a truncated, edited or re-parameterised key file",
    control="scrypt + AES-GCM sealed keys, digests of the public keys, 0600 permissions",
)


@pytest.fixture()
def store(tmp_path: Path) -> Keystore:
    keystore = Keystore(tmp_path / "keys")
    keystore.create(PASSPHRASE, kdf=FAST_KDF, eth_scrypt_n=FAST_ETH_N)
    return keystore


@stolen
@pytest.mark.parametrize("name", [MLDSA_FILE, MLKEM_FILE, ETH_FILE])
def test_truncated_key_file_is_refused_by_name(store: Keystore, name: str) -> None:
    path = store.path(name)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(KeystoreError) as caught:
        store.unlock(PASSPHRASE)
    assert name in str(caught.value)


@stolen
@pytest.mark.parametrize("name", [MLDSA_FILE, MLKEM_FILE])
def test_edited_ciphertext_is_refused(store: Keystore, name: str) -> None:
    path = store.path(name)
    document = json.loads(path.read_text())
    sealed = _find_ciphertext(document)
    raw = bytearray(base64.b64decode(sealed[0][sealed[1]]))
    raw[len(raw) // 2] ^= 1
    sealed[0][sealed[1]] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(document))
    os.chmod(path, 0o600)
    with pytest.raises(KeystoreError, match=r"wrong passphrase|modified|corrupt"):
        store.unlock(PASSPHRASE)


@stolen
def test_weakened_kdf_parameters_are_refused(store: Keystore) -> None:
    path = store.path(MLDSA_FILE)
    document = json.loads(path.read_text())
    kdf = _find_key(document, "n")
    kdf[0][kdf[1]] = 2
    path.write_text(json.dumps(document))
    os.chmod(path, 0o600)
    with pytest.raises(KeystoreError):
        store.unlock(PASSPHRASE)


@stolen
def test_wrong_passphrase_unlocks_nothing(store: Keystore) -> None:
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        store.unlock(PASSPHRASE + " ")


def _find_key(node: Any, key: str) -> tuple[dict[str, Any], str]:
    """The (dict, key) holding ``key`` somewhere in a JSON document."""
    if isinstance(node, dict):
        if key in node:
            return node, key
        for value in node.values():
            try:
                return _find_key(value, key)
            except KeyError:
                continue
    raise KeyError(key)


def _find_ciphertext(node: Any) -> tuple[dict[str, Any], str]:
    return _find_key(node, "ciphertext")
