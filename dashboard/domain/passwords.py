"""The one password rule, used by `flask users create`, the dashboard's user form and the password change.

At least MIN_PASSWORD_LENGTH characters, not one character repeated, not the email
address or the part before the @, and not in the shipped list of common passwords
(dashboard/data/common-passwords.txt, see README-common-passwords.md beside it).
The problem is a code, so the command line says it in English and the dashboard in
the reader's language.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib.resources import files

MIN_PASSWORD_LENGTH = 10


class PasswordProblem(StrEnum):
    TOO_SHORT = "too_short"
    ONE_CHARACTER = "one_character"
    LIKE_EMAIL = "like_email"
    COMMON = "common"


# English, for the command line and the domain's errors; the dashboard has its own words (admin/forms.py).
ENGLISH = {
    PasswordProblem.TOO_SHORT: f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
    PasswordProblem.ONE_CHARACTER: "the password is one character repeated",
    PasswordProblem.LIKE_EMAIL: "the password must not be the email address",
    PasswordProblem.COMMON: "the password is one of the most common passwords",
}


@cache
def _common() -> frozenset[str]:
    text = files("dashboard.data").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def problem(password: str, email: str = "") -> PasswordProblem | None:
    """Why this password is refused for this email, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordProblem.TOO_SHORT
    if len(set(password)) == 1:
        return PasswordProblem.ONE_CHARACTER
    folded = password.strip().casefold()
    email = email.strip().casefold()
    if email and folded in {email, email.partition("@")[0]}:
        return PasswordProblem.LIKE_EMAIL
    if folded in _common():
        return PasswordProblem.COMMON
    return None
