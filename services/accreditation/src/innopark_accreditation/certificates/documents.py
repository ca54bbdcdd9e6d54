"""What a certificate's two signatures cover (the README's "Verifying a certificate
offline" describes the same to verifiers).

- `signature`: the issued content — number, park, level, dates, issuer — signed once at
  issue (and again when an operator corrects the validity). A status change is not a
  re-issue.
- `status_signature`: the status as of `checked_at`, signed each time the document is
  served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..models import Certificate

# Fields whose values the issuance signature covers, in the public document's names.
SIGNED_FIELDS = [
    "certificate_id",
    "issued_on",
    "issuer",
    "level",
    "number",
    "park_id",
    "park_name",
    "previous_number",
    "valid_until",
]
STATUS_SIGNED_FIELDS = ["checked_at", "number", "status", "status_changed_at", "status_reason"]


def certificate_content(cert: Certificate) -> dict[str, Any]:
    """The immutable issued content: what `signature` signs."""
    return {
        "certificate_id": str(cert.id),
        "issued_on": cert.issued_on.isoformat(),
        "issuer": cert.issuer,
        "level": cert.level,
        "number": cert.number,
        "park_id": str(cert.park_id),
        "park_name": cert.park_name,
        "previous_number": cert.previous_number,
        "valid_until": cert.valid_until.isoformat(),
    }


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_content(cert: Certificate, checked_at: datetime) -> dict[str, Any]:
    """The status as of `checked_at`: what `status_signature` signs."""
    return {
        "checked_at": timestamp(checked_at),
        "number": cert.number,
        "status": cert.status,
        "status_changed_at": timestamp(cert.status_changed_at),
        "status_reason": cert.status_reason,
    }
