"""Every code a manager can meet has words: a label and a one-sentence explanation, in both languages."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from dashboard import vocabulary
from dashboard.admin.labels import VOCABULARIES, explain, label


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_every_member_has_a_label_and_an_explanation(app, name):
    enum, _words = VOCABULARIES[name]
    with app.test_request_context():
        for member in enum:
            assert label(member, name), (name, member)
            sentence = explain(member, name)
            assert sentence.endswith((".", ":")) and len(sentence.split()) >= 3, (name, member, sentence)


def test_unknown_codes_are_shown_as_they_are(app):
    with app.test_request_context():
        assert label("bitcoin", "payment_method") == "bitcoin"
        assert explain("bitcoin", "payment_method") == ""
        assert label(None, "reason") == ""


def test_check_constraints_are_built_from_the_vocabulary():
    assert vocabulary.sql_in("status", vocabulary.GroupStatus) == "status IN ('open', 'dismissed', 'fixed')"


def test_every_certain_kind_is_a_kind():
    assert set(vocabulary.CERTAIN_KINDS) < set(vocabulary.DuplicateKind)


def test_arabic_labels_differ_from_english_for_duplicate_kinds(app):
    """The kinds a manager reads on the queue are translated, not left as codes."""
    with app.test_request_context():
        english = {kind: label(kind, "kind") for kind in vocabulary.DuplicateKind}
        with force_locale("ar"):
            arabic = {kind: label(kind, "kind") for kind in vocabulary.DuplicateKind}
    untranslated = [kind for kind in vocabulary.DuplicateKind if arabic[kind] == english[kind]]
    assert not untranslated, untranslated


def test_select_choices_are_code_and_label(app):
    """A form's options show the label, not the (label, explanation) pair (mypy found the users page did)."""
    from dashboard.admin.labels import choices

    with app.test_request_context():
        pairs = choices("role")
        assert [code for code, _text in pairs] == [str(role) for role in vocabulary.Role]
        assert all(isinstance(text, str) and text == label(code, "role") for code, text in pairs), pairs
