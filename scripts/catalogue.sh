#!/usr/bin/env bash
# Refreshes the Arabic catalogue after strings change in templates or Python:
# extracts every message, brings new ones into ar/messages.po untranslated (no
# fuzzy guessing), fills them from any PO fragments given as arguments, compiles,
# and lists what is still untranslated (exit 1 if anything is).
#   scripts/catalogue.sh [fragment.po ...]
set -euo pipefail
cd "$(dirname "$0")/.."
T=dashboard/translations
.venv/bin/pybabel extract -F $T/babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o $T/messages.pot . >/dev/null 2>&1
.venv/bin/pybabel update --no-fuzzy-matching -i $T/messages.pot -d $T >/dev/null 2>&1
status=0
.venv/bin/python - "$@" <<'PY' || status=$?
import sys
from babel.messages.pofile import read_po, write_po

path = "dashboard/translations/ar/LC_MESSAGES/messages.po"
with open(path, "rb") as f:
    catalog = read_po(f, locale="ar")
for fragment in sys.argv[1:]:
    with open(fragment, "rb") as f:
        for message in read_po(f, locale="ar"):
            if not message.id or not message.string:
                continue
            ours = catalog.get(message.id)
            if ours is not None and not (ours.string if isinstance(ours.string, str) else any(ours.string)):
                ours.string = message.string
                ours.flags.discard("fuzzy")
# Drop obsolete entries: the catalogue mirrors what the code says today.
catalog.obsolete.clear()
with open(path, "wb") as f:
    write_po(f, catalog, no_location=True, sort_output=True)
missing = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
for message_id in missing:
    print("untranslated:", message_id)
sys.exit(1 if missing else 0)
PY
.venv/bin/pybabel compile -d $T >/dev/null 2>&1
exit $status
