"""Refusals as people read them (ui/errors.py): the field by its name on the form, the frequent reasons
in Russian (English on request), and an unknown reason kept as the service wrote it."""

from __future__ import annotations

import pytest

from ui import errors


@pytest.mark.parametrize(("message", "shown"), [
    ("code: this activation code has expired; ask for a new one",
     "«Код активации»: срок действия кода истёк: попросите новый код в управляющей компании"),
    ("password: at least 8 characters", "«Пароль»: не короче 8 символов"),
    ("description: at most 2000 characters, got 2001", "«Описание»: не длиннее 2000 символов (сейчас 2001)"),
    ("period: a date from 2000-01-01 to 2100-12-31, got 2106-02-07", "«Период»: дата от 2000-01-01 до 2100-12-31"),
    ("email: not an e-mail address: 'a@'", "«E-mail»: это не адрес электронной почты"),
    # a field without a name on the forms keeps its code; an unknown reason stays as written
    ("dev_eui: 70b3 is registered already", "«dev_eui»: 70b3 is registered already"),
    ("no field here", "no field here"),
])
def test_reasons_in_russian(message: str, shown: str) -> None:
    assert errors.reason(message) == shown


def test_reasons_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "current_language", lambda: "en")
    assert errors.reason("password: at least 8 characters") == "«Password»: at least 8 characters"
    assert errors.reason("description: 20 tickets in a day at most; call the dispatch desk if it is urgent") == \
        "«Description»: at most 20 tickets a day; call the dispatch desk if it is urgent"
