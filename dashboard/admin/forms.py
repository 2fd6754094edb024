"""The dashboard's forms; Flask-WTF adds and checks the CSRF token on each."""

from __future__ import annotations

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from ..domain import passwords
from ..domain.passwords import MIN_PASSWORD_LENGTH, PasswordProblem
from ..vocabulary import ROLE_RANK, Role
from .labels import choices

try:  # WTForms 3.3 wants choices as SelectChoice; older releases take (value, label) pairs.
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover

    def SelectChoice(value, label):  # noqa: N802
        return (value, label)


# Weakest role first, so the safe choice leads the list.
ROLE_CHOICES = sorted(choices("role"), key=lambda choice: ROLE_RANK[Role(choice[0])])


class LoginForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class DeviceForm(FlaskForm):
    name = StringField(_l("Till name"), validators=[DataRequired(), Length(max=100)])
    # Choices are the stores, filled in by the view (the default store first); none sent: the default store.
    store = SelectField(_l("Store"), choices=[], validate_choice=False)  # the domain checks the code


def password_message(problem: PasswordProblem) -> str:
    """The domain's password rule (domain/passwords.py), in the reader's language."""
    if problem is PasswordProblem.TOO_SHORT:
        return ngettext(
            "The password needs at least %(num)d character.",
            "The password needs at least %(num)d characters.",
            MIN_PASSWORD_LENGTH,
        )
    return {
        PasswordProblem.ONE_CHARACTER: gettext("The password must not be one character repeated."),
        PasswordProblem.LIKE_EMAIL: gettext("The password must not be the email address or the part before the @."),
        PasswordProblem.COMMON: gettext("This password is one of the most common ones; choose another."),
    }[problem]


def password_rule(email_field: str | None = None):
    """A validator applying the domain's one password rule; the email is the form's field or the signed-in user's."""

    def check(form, field):
        if email_field is not None:
            email = getattr(form, email_field).data or ""
        else:
            email = current_user.email
        problem = passwords.problem(field.data or "", email)
        if problem is not None:
            raise ValidationError(password_message(problem))

    return check


def _role_field():
    return SelectField(
        _l("Role"), choices=[SelectChoice(value, label) for value, label in ROLE_CHOICES], default="viewer"
    )


def _stores_field():
    # Choices are the store codes, filled in by the view; none ticked: every store. The domain checks the codes.
    return SelectMultipleField(_l("Limited to the stores"), choices=[], validate_choice=False)


class UserForm(FlaskForm):
    # The domain checks the address itself (email_validator is not a dependency).
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024), password_rule("email")])
    role = _role_field()
    stores = _stores_field()


class UserStoresForm(FlaskForm):
    stores = _stores_field()


class RoleForm(FlaskForm):
    role = _role_field()


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024), password_rule()])
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))],
    )


class LanguageForm(FlaskForm):
    locale = SelectField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("As my browser asks")),
            SelectChoice("en", "English"),
            SelectChoice("ar", "العربية"),
        ],
    )


class DismissForm(FlaskForm):
    reason = TextAreaField(_l("Why these orders are not duplicates"), validators=[DataRequired(), Length(max=2000)])


class BulkGroupsForm(FlaskForm):
    # Any group ids may come back: the domain refuses unknown or closed groups with a reason.
    group = SelectMultipleField(
        _l("Groups"), coerce=int, choices=[], validate_choice=False, validators=[DataRequired()]
    )
    action = SelectField(
        choices=[SelectChoice("dismiss", _l("Dismiss")), SelectChoice("preview", _l("Preview fix"))],
        validators=[DataRequired()],
    )
    reason = TextAreaField(_l("Why these orders are not duplicates"), validators=[Optional(), Length(max=2000)])


class PreviewForm(FlaskForm):
    # Choices are the group's orders still completed, set by the view; none chosen keeps the earliest.
    keep = RadioField(_l("Order to keep"), coerce=int, choices=[], validators=[Optional()])


class ApproveForm(FlaskForm):
    # The plan and the hash of the actions the person saw: approval is bound to them, so a changed plan is refused.
    plan_id = HiddenField(validators=[DataRequired()])
    plan_hash = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$")])


class ReprocessForm(FlaskForm):
    """No fields: the CSRF token alone (the sale comes from the URL, its content from what the till sent)."""


class HandleSaleForm(FlaskForm):
    note = TextAreaField(_l("What was done about this sale"), validators=[DataRequired(), Length(max=2000)])
