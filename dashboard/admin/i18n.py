"""Languages (English, Arabic right-to-left), and dates and numbers written the reader's way."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import current_app, g, has_request_context, request, session
from flask_babel import (
    Babel,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
    to_user_timezone,
)
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


def zone_name() -> str:
    """The dashboard's time zone (DASHBOARD_TIMEZONE): every time shown and every day filtered is in it."""
    return str(get_timezone())


def local_day_start(day: date) -> datetime:
    """Midnight starting `day` in the dashboard's time zone, as a UTC instant (DST-safe: zoneinfo folds)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone_name())).astimezone(timezone.utc)


def local_today() -> date:
    return datetime.now(ZoneInfo(zone_name())).date()


def start_of_today() -> datetime:
    """Midnight today in the dashboard's time zone, as a UTC instant."""
    return local_day_start(local_today())


def local_days(first: date, last: date) -> tuple[datetime, datetime]:
    """The local days first..last (inclusive) as the UTC instants [start, end): `to=2026-11-25` ends at
    the end of that day in the dashboard's zone, not in UTC."""
    return local_day_start(first), local_day_start(last + timedelta(days=1))


# Right-to-left pages: a figure between Unicode isolates (LRI ... PDI, the plain-text form of
# <bdi dir="ltr">) keeps its minus sign on the left ("-400", not "400-") whatever surrounds it.
# Plain text rather than markup, so the same filter is safe in attributes, <title>s and messages.
LRI, PDI = "\u2066", "\u2069"
# Babel's own direction marks (LRM, RLM, ALM) would turn the minus sign around inside the isolate.
_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f\u061c")
_FIGURE = re.compile(r"[-\u2212]?[0-9\u0660-\u0669][0-9\u0660-\u0669.,\u066b\u066c]*")


def _right_to_left() -> bool:
    return has_request_context() and text_direction() == "rtl"


def _isolated(text: str) -> str:
    return LRI + text.translate(_DIRECTION_MARKS) + PDI if _right_to_left() else text


def isolated_detail(text: str) -> str:
    """Text from elsewhere (an English error, a till's name) inside a translated sentence, between
    first-strong isolates (FSI ... PDI) on right-to-left pages, so its own direction cannot reorder the
    sentence around it."""
    return "\u2068" + text + PDI if _right_to_left() else text


def currency() -> str:
    """The shop's ISO 4217 currency code (DASHBOARD_CURRENCY)."""
    return current_app.config.get("DASHBOARD_CURRENCY", "EUR")


def money(value: Decimal | None, code: str | None = None) -> str:
    """An amount with its currency, the reader's way, to the currency's minor units (3 for KWD, 0 for JPY).

    code is the amount's store's currency; without one, the default store's (DASHBOARD_CURRENCY).
    """
    if value is None:
        return ""
    text = format_currency(value, code or currency())
    if not _right_to_left():
        return text
    # The locale decides where the symbol goes; only the signed figure itself is isolated.
    return _FIGURE.sub(lambda figure: LRI + figure.group(0) + PDI, text.translate(_DIRECTION_MARKS))


def quantity(value: Decimal | None) -> str:
    return "" if value is None else _isolated(format_decimal(value, format="#,##0.###"))


def zone_label() -> str:
    return _isolated(zone_name())


def when(value: datetime | None, style: str = "medium") -> str:
    """A moment in the dashboard's time zone, with the zone named after it."""
    return "" if value is None else f"{format_datetime(value, style)} ({zone_label()})"


def day(value) -> str:
    return "" if value is None else format_date(value, "medium")


def hour(value: datetime) -> str:
    """Hours and minutes on a 24-hour clock, in the reader's digits (chart labels: no AM/PM to reorder)."""
    return format_skeleton("Hm", to_user_timezone(value), locale=get_locale())


def short_day(value: datetime) -> str:
    """Day and month alone, the reader's way; for UTC day buckets, the UTC date (chart labels)."""
    return format_skeleton("MMMd", value.date(), locale=get_locale())


def number(value: int | None) -> str:
    return "" if value is None else _isolated(format_decimal(value, format="#,##0"))


def register_template_helpers(bp) -> None:
    """Filters and values every dashboard template may use."""
    from .access import has_role

    for name, function in {
        "money": money,
        "quantity": quantity,
        "when": when,
        "day": day,
        "hour": hour,
        "short_day": short_day,
        "number": number,
    }.items():
        bp.add_app_template_filter(function, name)

    @bp.app_context_processor
    def _page_context() -> dict:
        locale = str(get_locale())
        return {
            "locale": locale,
            "text_direction": text_direction(),
            "language_names": LANGUAGE_NAMES,
            "has_role": has_role,
            "time_zone": zone_label(),
            "currency": currency(),
        }
