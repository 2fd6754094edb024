"""The dashboard's forms; Flask-WTF adds and checks the CSRF token on each."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ..domain.users import MIN_PASSWORD_LENGTH
from ..vocabulary import ROLE_RANK
from .labels import choices

try:  # WTForms 3.3 wants choices as SelectChoice; older releases take (value, label) pairs.
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover
    def SelectChoice(value, label):  # noqa: N802
        return (value, label)

# Weakest role first, so the safe choice leads the list.
ROLE_CHOICES = sorted(choices("role"), key=lambda choice: ROLE_RANK[choice[0]])


class LoginForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class DeviceForm(FlaskForm):
    name = StringField(_l("Till name"), validators=[DataRequired(), Length(max=100)])


class UserForm(FlaskForm):
    # The domain checks the address itself (email_validator is not a dependency).
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)])
    role = SelectField(_l("Role"), choices=[SelectChoice(value, label) for value, label in ROLE_CHOICES],
                       default="viewer")


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[SelectChoice("", _l("As my browser asks")),
                                                  SelectChoice("en", "English"), SelectChoice("ar", "العربية")])


class DismissForm(FlaskForm):
    reason = TextAreaField(_l("Why these orders are not duplicates"), validators=[DataRequired(), Length(max=2000)])


class PreviewForm(FlaskForm):
    # Choices are the group's orders still completed, set by the view; none chosen keeps the earliest.
    keep = RadioField(_l("Order to keep"), coerce=int, choices=[], validators=[Optional()])


class ApproveForm(FlaskForm):
    # The plan and the hash of the actions the person saw: approval is bound to them, so a changed plan is refused.
    plan_id = HiddenField(validators=[DataRequired()])
    plan_hash = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$")])
