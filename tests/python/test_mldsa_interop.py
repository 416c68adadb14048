"""ML-DSA-65: our wrapper (pqcrypto) against two independent implementations and FIPS 204 KATs.

* pyca/cryptography (OpenSSL) and dilithium-py verify our signatures and we verify theirs,
  always with an explicit context string.
* The deterministic ML-DSA-65 known-answer vectors shipped in ``cryptography_vectors``
  (``kat_MLDSA_65_det_pure.rsp``: xi, pk, sk, msg, ctx, sm = signature || message) drive our
  verifier: every vector verifies, and a modified message, signature or context is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cryptography_vectors
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa as pyca_mldsa
from dilithium_py.ml_dsa import ML_DSA_65

from fqai.crypto import mldsa
from fqai.errors import SignatureError
from fqai.manifest.envelope import SIGNING_CONTEXT

MESSAGE = b'{"manifest":"canonical bytes stand-in"}'


@dataclass(frozen=True)
class Kat:
    count: int
    xi: bytes
    pk: bytes
    sk: bytes
    msg: bytes
    ctx: bytes
    sig: bytes


def _load_kats() -> list[Kat]:
    path = Path(cryptography_vectors.__file__).parent / "asymmetric/MLDSA/kat_MLDSA_65_det_pure.rsp"
    records: list[dict[str, str]] = []
    for line in path.read_text().splitlines():
        if not line.strip() or " = " not in line:
            continue
        key, value = (part.strip() for part in line.split(" = ", 1))
        if key == "count":
            records.append({})
        records[-1][key] = value
    kats = []
    for rec in records:
        msg = bytes.fromhex(rec["msg"])
        sm = bytes.fromhex(rec["sm"])
        assert sm[mldsa.SIGNATURE_SIZE :] == msg
        kats.append(
            Kat(
                count=int(rec["count"]),
                xi=bytes.fromhex(rec["xi"]),
                pk=bytes.fromhex(rec["pk"]),
                sk=bytes.fromhex(rec["sk"]),
                msg=msg,
                ctx=bytes.fromhex(rec["ctx"]),
                sig=sm[: mldsa.SIGNATURE_SIZE],
            )
        )
    return kats


KATS = _load_kats()


def test_kat_file_is_complete() -> None:
    assert len(KATS) == 100
    assert all(
        len(k.pk) == mldsa.PUBLIC_KEY_SIZE and len(k.sk) == mldsa.SECRET_KEY_SIZE for k in KATS
    )


def test_our_verifier_accepts_every_fips204_vector() -> None:
    for kat in KATS:
        mldsa.verify(kat.pk, kat.msg, kat.sig, kat.ctx)


def test_our_verifier_rejects_modified_vectors() -> None:
    for kat in KATS[:25]:
        flipped_sig = bytearray(kat.sig)
        flipped_sig[kat.count % len(flipped_sig)] ^= 0x01
        with pytest.raises(SignatureError):
            mldsa.verify(kat.pk, kat.msg, bytes(flipped_sig), kat.ctx)
        with pytest.raises(SignatureError):
            mldsa.verify(kat.pk, kat.msg + b"\x00", kat.sig, kat.ctx)
        with pytest.raises(SignatureError):
            mldsa.verify(kat.pk, kat.msg, kat.sig, kat.ctx + b"x")


def test_kat_keygen_from_seed_matches_with_independent_implementations() -> None:
    for kat in KATS[:5]:
        pyca_key = pyca_mldsa.MLDSA65PrivateKey.from_seed_bytes(kat.xi)
        assert pyca_key.public_key().public_bytes_raw() == kat.pk
        pk, sk = ML_DSA_65.key_derive(kat.xi)
        assert (pk, sk) == (kat.pk, kat.sk)


def test_pqcrypto_signs_with_kat_secret_key() -> None:
    kat = KATS[0]
    signature = mldsa.sign(kat.sk, MESSAGE, SIGNING_CONTEXT)
    assert ML_DSA_65.verify(kat.pk, MESSAGE, signature, ctx=SIGNING_CONTEXT)
    pyca_mldsa.MLDSA65PublicKey.from_public_bytes(kat.pk).verify(
        signature, MESSAGE, SIGNING_CONTEXT
    )


def test_pqcrypto_signature_verifies_with_pyca_and_dilithium_py() -> None:
    pair = mldsa.generate()
    signature = mldsa.sign(pair.secret_key, MESSAGE, SIGNING_CONTEXT)
    assert len(signature) == mldsa.SIGNATURE_SIZE
    pyca_mldsa.MLDSA65PublicKey.from_public_bytes(pair.public_key).verify(
        signature, MESSAGE, SIGNING_CONTEXT
    )
    assert ML_DSA_65.verify(pair.public_key, MESSAGE, signature, ctx=SIGNING_CONTEXT)
    # The context is bound into the signature: other implementations reject a different one.
    assert not ML_DSA_65.verify(pair.public_key, MESSAGE, signature, ctx=b"fqai-manifest-v2")
    assert not ML_DSA_65.verify(pair.public_key, MESSAGE, signature)
    with pytest.raises(InvalidSignature):
        pyca_mldsa.MLDSA65PublicKey.from_public_bytes(pair.public_key).verify(
            signature, MESSAGE, b"other"
        )


def test_pyca_and_dilithium_py_signatures_verify_with_ours() -> None:
    pyca_key = pyca_mldsa.MLDSA65PrivateKey.generate()
    pyca_sig = pyca_key.sign(MESSAGE, SIGNING_CONTEXT)
    pyca_pk = pyca_key.public_key().public_bytes_raw()
    mldsa.verify(pyca_pk, MESSAGE, pyca_sig, SIGNING_CONTEXT)
    with pytest.raises(SignatureError):
        mldsa.verify(pyca_pk, MESSAGE, pyca_sig, b"fqai-manifest-v0")

    pk, sk = ML_DSA_65.keygen()
    dpy_sig = ML_DSA_65.sign(sk, MESSAGE, ctx=SIGNING_CONTEXT)
    mldsa.verify(pk, MESSAGE, dpy_sig, SIGNING_CONTEXT)
    with pytest.raises(SignatureError):
        mldsa.verify(pk, MESSAGE, dpy_sig, b"")


def test_signing_is_hedged_and_both_signatures_verify() -> None:
    pair = mldsa.generate()
    first = mldsa.sign(pair.secret_key, MESSAGE, SIGNING_CONTEXT)
    second = mldsa.sign(pair.secret_key, MESSAGE, SIGNING_CONTEXT)
    assert first != second
    for signature in (first, second):
        mldsa.verify(pair.public_key, MESSAGE, signature, SIGNING_CONTEXT)


def test_wrapper_rejects_bad_sizes_and_long_context() -> None:
    pair = mldsa.generate()
    signature = mldsa.sign(pair.secret_key, MESSAGE, SIGNING_CONTEXT)
    with pytest.raises(SignatureError, match="public key must be"):
        mldsa.verify(pair.public_key[:-1], MESSAGE, signature, SIGNING_CONTEXT)
    with pytest.raises(SignatureError, match="signature must be"):
        mldsa.verify(pair.public_key, MESSAGE, signature + b"\x00", SIGNING_CONTEXT)
    with pytest.raises(SignatureError, match="context"):
        mldsa.sign(pair.secret_key, MESSAGE, b"x" * 256)
    assert mldsa.key_digest(pair.public_key).startswith("0x")
    assert "secret" not in repr(pair) and pair.secret_key.hex()[:32] not in repr(pair)
