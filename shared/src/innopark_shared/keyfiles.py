"""Private key files: created once, atomically, and shared by replicas on one volume.

Both the gateway's token key and accreditation's certificate key are kept this way:
`load_or_create_private_key(path, generate)` reads the PEM at `path`, or generates one and
publishes it without clobbering a key another replica wrote first.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

log = logging.getLogger(__name__)


def write_new_private_key(path: Path, key: PrivateKeyTypes) -> None:
    """Publish `key` as PKCS#8 PEM at `path` (mode 0600), unless a key is already there:
    the file appears whole or not at all, and two processes racing keep the first key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process got there first: keep theirs
            log.warning("generated a new private key at %s", path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_private_key(
    path: str | Path, generate: Callable[[], PrivateKeyTypes]
) -> PrivateKeyTypes:
    """The private key at `path`, generated with `generate()` if the file does not exist."""
    path = Path(path)
    if not path.exists():
        write_new_private_key(path, generate())
    return serialization.load_pem_private_key(path.read_bytes(), password=None)
