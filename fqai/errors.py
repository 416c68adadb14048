"""Exception classes raised by fqai.

Every error fqai raises on purpose derives from :class:`FqaiError`, so callers (and the CLI) can
catch one type. Messages name the object that failed (a CID, a file, a key digest) and, for digest
checks, the expected and the actual value.
"""

from __future__ import annotations


class FqaiError(Exception):
    """Base class of every error raised deliberately by fqai."""


class ManifestError(FqaiError):
    """A manifest or signed envelope is malformed, not canonical, too large or fails the schema."""


class CanonicalizationError(ManifestError):
    """A value cannot be serialised under the canonical JSON rules (RFC 8785 subset)."""


class SignatureError(FqaiError):
    """An ML-DSA signature does not verify, or a signing operation failed."""


class DigestMismatchError(FqaiError):
    """Bytes do not hash to the digest (sha256, size or CID) that a signed record promises."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what}: expected {expected}, got {actual}")
        self.what = what
        self.expected = expected
        self.actual = actual


class UntrustedSignerError(FqaiError):
    """The signer key is valid but not among the keys the caller trusts."""


class WeightsError(FqaiError):
    """A weights file is not valid safetensors or does not match its manifest."""


class IpfsError(FqaiError):
    """The IPFS daemon answered with an error (bad CID, content not found, not pinned ...)."""


class IpfsUnavailableError(IpfsError):
    """The IPFS API could not be reached or did not answer in time."""

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"IPFS API at {address} unavailable: {detail}")
        self.address = address
        self.detail = detail


class ContentUnavailableError(IpfsError):
    """The daemon is up but did not deliver the requested content in time (unknown CID?)."""


class ContentTooLargeError(IpfsError):
    """Content fetched from IPFS exceeds the size cap given by the caller."""


class KeystoreError(FqaiError):
    """A keystore is missing, corrupt, has the wrong permissions, or the passphrase is wrong."""


class DevnetError(FqaiError):
    """A local development service (IPFS node ...) could not be started, found or stopped."""


class EncryptedWeightsError(FqaiError):
    """The weights are encrypted for licensees; this operation needs the plaintext."""
