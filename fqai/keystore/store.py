"""A node's keystore directory: three key files, each mode 0600, in a directory of mode 0700.

* ``mldsa65.json``   sealed ML-DSA-65 identity key (see :mod:`fqai.keystore.sealed`)
* ``mlkem768.json``  sealed ML-KEM-768 key for receiving licensed models
* ``ethereum.json``  Ethereum account key as a Web3 Secret Storage (V3) keyfile, scrypt KDF

Public information (public keys, their sha256 digests, the Ethereum address) is readable without
the passphrase; secrets only after :meth:`Keystore.unlock`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from fqai.crypto import mldsa, mlkem
from fqai.encoding import b64encode
from fqai.errors import KeystoreError
from fqai.fsutil import write_bytes_atomic
from fqai.keystore.passphrase import MIN_NEW_PASSPHRASE_LENGTH
from fqai.keystore.sealed import ScryptParams, SealedKey, seal

log = logging.getLogger(__name__)

MLDSA_FILE = "mldsa65.json"
MLKEM_FILE = "mlkem768.json"
ETH_FILE = "ethereum.json"
KEY_FILES = (MLDSA_FILE, MLKEM_FILE, ETH_FILE)
FILE_MODE = 0o600
DIR_MODE = 0o700
PUBLIC_FORMAT = "fqai-public-identity/1"
DEFAULT_ETH_SCRYPT_N = 2**18


@dataclass(frozen=True)
class PublicIdentity:
    """Everything about a node's keys that may be shown or published."""

    mldsa_public_key: bytes = field(repr=False)
    mldsa_key_digest: str
    mlkem_public_key: bytes = field(repr=False)
    mlkem_key_digest: str
    eth_address: str

    def to_json(self) -> dict[str, Any]:
        """The public export (format ``fqai-public-identity/1``)."""
        return {
            "format": PUBLIC_FORMAT,
            "ml_dsa_65": {
                "public_key": b64encode(self.mldsa_public_key),
                "key_digest": self.mldsa_key_digest,
            },
            "ml_kem_768": {
                "public_key": b64encode(self.mlkem_public_key),
                "key_digest": self.mlkem_key_digest,
            },
            "ethereum": {"address": self.eth_address},
        }


@dataclass(frozen=True, repr=False)
class NodeIdentity:
    """An unlocked keystore. ``repr`` shows public digests only."""

    public: PublicIdentity
    mldsa: mldsa.MlDsaKeyPair
    mlkem: mlkem.MlKemKeyPair
    eth_private_key: bytes

    def __repr__(self) -> str:
        return (
            f"NodeIdentity(mldsa_key_digest={self.public.mldsa_key_digest}, "
            f"eth_address={self.public.eth_address})"
        )


class Keystore:
    """A keystore directory.

    Parameters
    ----------
    directory
        Where the key files live (created by :meth:`create`).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        """Path of one key file."""
        return self.directory / name

    def exists(self) -> bool:
        """Whether any key file is present."""
        return any(self.path(name).exists() for name in KEY_FILES)

    def create(
        self,
        passphrase: str,
        *,
        kdf: ScryptParams | None = None,
        eth_scrypt_n: int = DEFAULT_ETH_SCRYPT_N,
    ) -> PublicIdentity:
        """Generate all three keys and write them encrypted under ``passphrase``.

        Parameters
        ----------
        passphrase
            At least 8 characters.
        kdf
            scrypt parameters of the two post-quantum key files (default :class:`ScryptParams`).
        eth_scrypt_n
            scrypt ``n`` of the Ethereum keyfile (default 2**18, the eth-account default).

        Returns
        -------
        PublicIdentity
            The new public identity.

        Raises
        ------
        KeystoreError
            If a key file already exists (keys are never overwritten) or the passphrase is short.
        """
        if len(passphrase) < MIN_NEW_PASSPHRASE_LENGTH:
            raise KeystoreError(
                f"passphrase must have at least {MIN_NEW_PASSPHRASE_LENGTH} characters"
            )
        existing = [name for name in KEY_FILES if self.path(name).exists()]
        if existing:
            raise KeystoreError(
                f"keystore {self.directory} already holds {', '.join(existing)}; "
                "refusing to overwrite keys"
            )
        params = kdf or ScryptParams()
        params.validate()
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(self.directory, DIR_MODE)

        signing = mldsa.generate()
        kem = mlkem.generate()
        account = Account.create()
        documents = {
            MLDSA_FILE: seal(
                "ml-dsa-65", signing.public_key, signing.secret_key, passphrase, params
            ),
            MLKEM_FILE: seal("ml-kem-768", kem.public_key, kem.secret_key, passphrase, params),
            ETH_FILE: dict(
                Account.encrypt(account.key, passphrase, kdf="scrypt", iterations=eth_scrypt_n)
            ),
        }
        written: list[Path] = []
        try:
            for name, document in documents.items():
                target = self.path(name)
                write_bytes_atomic(target, _dump(document), FILE_MODE)
                written.append(target)
        except OSError as exc:
            for target in written:
                target.unlink(missing_ok=True)
            raise KeystoreError(f"cannot write keystore {self.directory}: {exc}") from exc
        log.info(
            "created keystore %s (ML-DSA-65 key %s, address %s)",
            self.directory,
            mldsa.key_digest(signing.public_key),
            account.address,
        )
        return self.public_identity()

    def _read_json(self, name: str) -> Any:
        target = self.path(name)
        try:
            st = target.stat()
        except FileNotFoundError as exc:
            raise KeystoreError(f"keystore file {target} not found (run `fqai keys init`)") from exc
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise KeystoreError(
                f"keystore file {target} has mode {stat.S_IMODE(st.st_mode):04o}; "
                "it must not be readable by group or others (chmod 600)"
            )
        try:
            return json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"cannot read keystore file {target}: {exc}") from exc

    def _sealed(self, name: str, kind: str) -> SealedKey:
        return SealedKey.from_json(self._read_json(name), kind, str(self.path(name)))

    def _eth_keyfile(self) -> dict[str, Any]:
        document = self._read_json(ETH_FILE)
        if not isinstance(document, dict) or not isinstance(document.get("address"), str):
            raise KeystoreError(f"{self.path(ETH_FILE)}: not an Ethereum V3 keyfile")
        return document

    def public_identity(self) -> PublicIdentity:
        """Read the public identity without the passphrase."""
        signing = self._sealed(MLDSA_FILE, "ml-dsa-65")
        kem = self._sealed(MLKEM_FILE, "ml-kem-768")
        keyfile = self._eth_keyfile()
        try:
            address = to_checksum_address("0x" + keyfile["address"].removeprefix("0x"))
        except ValueError as exc:
            raise KeystoreError(f"{self.path(ETH_FILE)}: bad address field") from exc
        return PublicIdentity(
            mldsa_public_key=signing.public_key,
            mldsa_key_digest=signing.key_digest,
            mlkem_public_key=kem.public_key,
            mlkem_key_digest=kem.key_digest,
            eth_address=address,
        )

    def unlock(self, passphrase: str) -> NodeIdentity:
        """Decrypt all keys and check that each secret key matches its public key.

        Raises
        ------
        KeystoreError
            On a wrong passphrase, a modified file, or a secret that does not match its public key.
        """
        public = self.public_identity()
        signing = self._sealed(MLDSA_FILE, "ml-dsa-65")
        kem = self._sealed(MLKEM_FILE, "ml-kem-768")
        mldsa_secret = signing.unseal(passphrase, str(self.path(MLDSA_FILE)))
        if not mldsa.keys_match(signing.public_key, mldsa_secret):
            raise KeystoreError(f"{self.path(MLDSA_FILE)}: secret key does not match public key")
        mlkem_secret = kem.unseal(passphrase, str(self.path(MLKEM_FILE)))
        if not mlkem.keys_match(kem.public_key, mlkem_secret):
            raise KeystoreError(f"{self.path(MLKEM_FILE)}: secret key does not match public key")
        keyfile = self._eth_keyfile()
        try:
            eth_key = bytes(Account.decrypt(keyfile, passphrase))
        except ValueError as exc:
            raise KeystoreError(
                f"{self.path(ETH_FILE)}: cannot decrypt: wrong passphrase, or the file was modified"
            ) from exc
        if Account.from_key(eth_key).address != public.eth_address:
            raise KeystoreError(f"{self.path(ETH_FILE)}: key does not match its address")
        log.info("unlocked keystore %s", self.directory)
        return NodeIdentity(
            public=public,
            mldsa=mldsa.MlDsaKeyPair(signing.public_key, mldsa_secret),
            mlkem=mlkem.MlKemKeyPair(kem.public_key, mlkem_secret),
            eth_private_key=eth_key,
        )


def _dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
