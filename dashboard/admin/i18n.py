"""Languages (English, Arabic right-to-left), and dates and numbers written the reader's way."""
from __future__ import annotations

from datetime import datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import g, has_request_context, request, session
from flask_babel import (Babel, format_date, format_datetime, format_decimal, get_locale, get_timezone,
                         to_user_timezone)
from flask_login import current_user

from ..domain.user_admin import LOCALES

# Each language in its own words, for the language switch.
LANGUAGE_NAMES = {"en": "English", "ar": "العربية"}
RIGHT_TO_LEFT = {"ar"}

babel = Babel()


def select_locale() -> str | None:
    """The signed-in person's choice, else the one made before signing in, else the browser's."""
    if not has_request_context():
        return None
    if g.get("reader_locale") in LOCALES:  # an error page, drawn without loading the person again
        return g.reader_locale
    if current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    if session.get("locale") in LOCALES:
        return session["locale"]
    return request.accept_languages.best_match(LOCALES)


def text_direction() -> str:
    return "rtl" if str(get_locale()) in RIGHT_TO_LEFT else "ltr"


def start_of_today() -> datetime:
    """Midnight today in the dashboard's time zone (BABEL_DEFAULT_TIMEZONE), as a UTC instant."""
    zone = ZoneInfo(str(get_timezone()))
    local_today = datetime.now(zone).date()
    return datetime.combine(local_today, time.min, tzinfo=zone).astimezone(timezone.utc)


def money(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value, format="#,##0.00")


def quantity(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value, format="#,##0.###")


def when(value: datetime | None, style: str = "medium") -> str:
    return "" if value is None else format_datetime(value, style)


def day(value) -> str:
    return "" if value is None else format_date(value, "medium")


def hour(value: datetime) -> str:
    """Hours and minutes on a 24-hour clock, in the reader's digits (chart labels: no AM/PM to reorder)."""
    return format_skeleton("Hm", to_user_timezone(value), locale=get_locale())


def short_day(value: datetime) -> str:
    """Day and month alone, the reader's way; for UTC day buckets, the UTC date (chart labels)."""
    return format_skeleton("MMMd", value.date(), locale=get_locale())


def number(value: int | None) -> str:
    return "" if value is None else format_decimal(value, format="#,##0")


def register_template_helpers(bp) -> None:
    """Filters and values every dashboard template may use."""
    from .access import has_role

    for name, function in {"money": money, "quantity": quantity, "when": when, "day": day,
                           "hour": hour, "short_day": short_day, "number": number}.items():
        bp.add_app_template_filter(function, name)

    @bp.app_context_processor
    def _page_context() -> dict:
        locale = str(get_locale())
        return {"locale": locale, "text_direction": text_direction(), "language_names": LANGUAGE_NAMES,
                "has_role": has_role}
