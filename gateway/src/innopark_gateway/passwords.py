"""Password rules: what a new password must be (NIST SP 800-63B §3.1.1.2: length, not a
known-compromised or context-specific value; no composition rules).

Every refusal is a 422 naming the field, with a message that says what to change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from innopark_shared.errors import Unprocessable

MIN_LENGTH = 12
MAX_LENGTH = 256  # keeps an attacker from making us hash megabytes
MIN_DISTINCT = 5

# "Password2024!", "qwerty123456": a common word with digits or symbols around it.
COMMON_BASES = frozenset(
    """password passw0rd p@ssw0rd p@ssword qwerty qwertyuiop asdfgh asdfghjkl zxcvbn
    letmein welcome iloveyou admin administrator changeme secret monkey dragon master
    football baseball sunshine princess superman batman trustno1 starwars whatever
    computer internet innopark technopark technopolis login user default test guest""".split()
)
_AROUND = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    lines = (line.strip().lower() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str, *, email: str | None) -> str | None:
    """Why `password` is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    lowered = password.lower()
    if email:
        address = email.strip().lower()
        local = address.split("@", 1)[0]
        if address in lowered or (len(local) >= 4 and local in lowered):
            return "must not contain the e-mail address"
    if len(set(password)) < MIN_DISTINCT:
        return f"must use at least {MIN_DISTINCT} different characters"
    match = _AROUND.match(lowered)
    base = match.group(1) if match else lowered
    if lowered in common_passwords() or base in COMMON_BASES or base in common_passwords():
        return "is a commonly used password; choose another"
    return None


def check_password(password: str, *, email: str | None, field: str = "password") -> None:
    why = password_problem(password, email=email)
    if why:
        raise Unprocessable.for_field(
            field, f"Password {why}", kind="weak_password", detail=f"Weak password: {why}"
        )
