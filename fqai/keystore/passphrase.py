"""Where a keystore passphrase comes from: a file, an environment variable, or a prompt."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path

from fqai.errors import KeystoreError

PASSPHRASE_ENV = "FQAI_KEYSTORE_PASSPHRASE"
MIN_NEW_PASSPHRASE_LENGTH = 8


def _strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def read_passphrase(
    passphrase_file: Path | None = None,
    *,
    confirm: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
    interactive: bool = True,
) -> str:
    """Obtain the keystore passphrase.

    Sources, in order: ``passphrase_file`` (one trailing newline is removed), the environment
    variable ``FQAI_KEYSTORE_PASSPHRASE``, then an interactive prompt (asked twice when
    ``confirm`` is set). The passphrase is never logged.

    Parameters
    ----------
    passphrase_file
        Optional file whose content is the passphrase.
    confirm
        Ask twice at the prompt and require both answers to match (used when creating keys).
    prompt
        Function reading a line without echo.
    interactive
        Whether prompting is allowed; if not and no other source is set, fail.

    Returns
    -------
    str
        The passphrase.

    Raises
    ------
    KeystoreError
        If the file cannot be read, the passphrase is empty, or no source is available.
    """
    if passphrase_file is not None:
        try:
            text = Path(passphrase_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeystoreError(f"cannot read passphrase file {passphrase_file}: {exc}") from exc
        passphrase = _strip_one_newline(text)
    elif os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV]
    elif interactive:
        passphrase = prompt("Keystore passphrase: ")
        if confirm and prompt("Repeat passphrase: ") != passphrase:
            raise KeystoreError("passphrases do not match")
    else:
        raise KeystoreError(f"no passphrase: use --passphrase-file or set {PASSPHRASE_ENV}")
    if not passphrase:
        raise KeystoreError("passphrase is empty")
    return passphrase
