"""What logs may say about a person: never their words, and account ids only hashed."""

from __future__ import annotations

import hashlib
import uuid


def short_hash(value: uuid.UUID | str) -> str:
    """Account ids in logs: enough to correlate, not enough to identify."""
    return hashlib.sha256(str(value).encode()).hexdigest()[:10]
