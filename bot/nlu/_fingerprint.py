"""Fingerprints of code and resource files for Rasa's training cache.

Rasa caches each component's training output by class name, config and inputs; an
edited typo map, user dictionary or lexicon would otherwise be ignored by the next
``rasa train`` until the cache is cleared."""

from __future__ import annotations

import hashlib
from pathlib import Path


def files_fingerprint(*paths: str | Path) -> str:
    """SHA-256 over the contents of the given files (missing files count as empty)."""
    digest = hashlib.sha256()
    for path in paths:
        p = Path(path)
        digest.update(str(p.name).encode())
        digest.update(p.read_bytes() if p.exists() else b"")
    return digest.hexdigest()
