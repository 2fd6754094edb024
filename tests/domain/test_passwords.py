"""The one password rule: long enough, not one character, not the email, not a common password."""

from __future__ import annotations

import pytest

from dashboard.domain.passwords import MIN_PASSWORD_LENGTH, PasswordProblem, problem


@pytest.mark.parametrize(
    "password, email, expected",
    [
        ("short", "", PasswordProblem.TOO_SHORT),
        ("x" * (MIN_PASSWORD_LENGTH - 1), "", PasswordProblem.TOO_SHORT),
        ("aaaaaaaaaa", "", PasswordProblem.ONE_CHARACTER),
        ("          ", "", PasswordProblem.ONE_CHARACTER),
        ("Manager@Shop.example", "manager@shop.example", PasswordProblem.LIKE_EMAIL),
        ("administrator", "Administrator@shop.example", PasswordProblem.LIKE_EMAIL),
        ("1234567890", "", PasswordProblem.COMMON),
        ("QWERTYUIOP", "", PasswordProblem.COMMON),
        ("password123", "a@b.example", PasswordProblem.COMMON),
        ("correct horse battery", "manager@shop.example", None),
        ("a fresh long passphrase", "", None),
        ("كلمة سر طويلة جدا", "", None),
    ],
)
def test_password_rule(password, email, expected):
    assert problem(password, email) == expected


def test_every_shipped_common_password_is_refused():
    from importlib.resources import files

    listed = files("dashboard.data").joinpath("common-passwords.txt").read_text(encoding="utf-8").splitlines()
    assert len(listed) > 1000
    assert all(problem(word) is not None for word in listed)
