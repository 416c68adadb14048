"""The model owner's content keys, sealed at rest (scrypt + AES-256-GCM) under a passphrase.

One file per licensed-only model, ``<directory>/<manifest CID>.json``, in the keystore's sealed
format with kind ``aes-256-content-key``; its "public" part is the manifest CID, so a file cannot
be renamed to serve another model (the CID is in the AES-GCM associated data).
"""

from __future__ import annotations

import json
from pathlib import Path

from fqai.delivery.content import KEY_SIZE
from fqai.delivery.wrap import KeyDeliveryError
from fqai.fsutil import write_bytes_atomic
from fqai.ipfs.cid import normalize_cid
from fqai.jcs import canonicalize
from fqai.keystore.sealed import ScryptParams, SealedKey, seal

KIND = "aes-256-content-key"


class ContentKeyStore:
    """Content keys by manifest CID, unsealed on first use and kept in memory."""

    def __init__(
        self, directory: Path, passphrase: str, params: ScryptParams | None = None
    ) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase
        self._params = params or ScryptParams()
        self._cache: dict[str, bytes] = {}

    def path(self, manifest_cid: str) -> Path:
        return self.directory / f"{normalize_cid(manifest_cid)}.json"

    def put(self, manifest_cid: str, key: bytes) -> Path:
        """Seal ``key`` for the model at ``manifest_cid`` (file mode 0600)."""
        if len(key) != KEY_SIZE:
            raise ValueError(f"content key must be {KEY_SIZE} bytes, got {len(key)}")
        cid = normalize_cid(manifest_cid)
        sealed = seal(KIND, cid.encode(), key, self._passphrase, self._params)
        path = self.path(cid)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, canonicalize(sealed), 0o600)
        self._cache[cid] = key
        return path

    def get(self, manifest_cid: str) -> bytes:
        """The content key of the model at ``manifest_cid``.

        Raises
        ------
        KeyDeliveryError
            No key for that model here, or the file is not for that model.
        KeystoreError
            Wrong passphrase or a damaged file.
        """
        cid = normalize_cid(manifest_cid)
        if cid in self._cache:
            return self._cache[cid]
        path = self.path(cid)
        if not path.exists():
            raise KeyDeliveryError(f"no content key for model {cid} in {self.directory}")
        sealed = SealedKey.from_json(json.loads(path.read_bytes()), KIND, str(path))
        if sealed.public_key != cid.encode():
            raise KeyDeliveryError(f"{path} holds the key of {sealed.public_key.decode()!r}")
        key = sealed.unseal(self._passphrase, str(path))
        self._cache[cid] = key
        return key
