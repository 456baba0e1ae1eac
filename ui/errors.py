"""Refusals written for people: the service layer's InvalidInput says ``field: reason`` in English
for the API's callers; a page shows it in the person's language, the field by its name on the form
and the frequent reasons in words (an unknown reason stays as the service wrote it, so nothing is
lost). Imports the i18n table only; tests: tests/unit/ui/test_errors.py.
"""

from __future__ import annotations

import re

from . import i18n
from .i18n import current_language, t

i18n.extend({
    "field.email": ("E-mail", "E-mail"),
    "field.password": ("Пароль", "Password"),
    "field.code": ("Код активации", "Activation code"),
    "field.full_name": ("ФИО", "Full name"),
    "field.name": ("Название", "Name"),
    "field.phone": ("Телефон", "Phone"),
    "field.applicant_phone": ("Телефон заявителя", "Applicant's phone"),
    "field.description": ("Описание", "Description"),
    "field.login": ("Логин", "Login"),
    "field.role": ("Роль", "Role"),
    "field.period": ("Период", "Period"),
    "field.current_password": ("Текущий пароль", "Current password"),
    "field.new_password": ("Новый пароль", "New password"),
    "field.address": ("Адрес", "Address"),
    "field.area_m2": ("Площадь", "Area"),
    "field.residents": ("Число жильцов", "Residents"),
    "field.company_id": ("Компания", "Company"),
    "field.city_id": ("Город", "City"),
    "field.number": ("Номер", "Number"),
    "field.serial": ("Заводской номер", "Serial number"),
    "field.inn": ("ИНН", "INN"),
    "field.kpp": ("КПП", "KPP"),
    "field.ogrn": ("ОГРН", "OGRN"),
})

# (reason pattern, (Russian, English)); groups of the pattern fill {1}, {2}, ... of the texts
_REASONS: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = tuple((re.compile(p), texts) for p, texts in (
    (r"^required$", ("обязательное поле", "required")),
    (r"^at least (\d+) characters$", ("не короче {1} символов", "at least {1} characters")),
    (r"^at most (\d+) characters, got (\d+)$", ("не длиннее {1} символов (сейчас {2})", "at most {1} characters "
                                                 "(now {2})")),
    (r"^must not start or end with spaces$", ("не должен начинаться или заканчиваться пробелом",
                                              "must not start or end with a space")),
    (r"^must differ from the current password$", ("должен отличаться от текущего", "must differ from the current one")),
    (r"^wrong password$", ("неверный пароль", "wrong password")),
    (r"^not an e-mail address: .*$", ("это не адрес электронной почты", "not an e-mail address")),
    (r"^an e-mail address such as (\S+), got .*$", ("нужен адрес электронной почты вида {1}",
                                                     "an e-mail address such as {1}")),
    (r"^1 to (\d+) characters$", ("от 1 до {1} символов", "1 to {1} characters")),
    (r"^digits, spaces, '\(\)-' and an optional '\+'.*$", ("цифры, пробелы, скобки, дефис и «+» в начале",
                                                            "digits, spaces, brackets, dashes and a leading '+'")),
    (r"^unknown activation code$", ("такого кода активации нет: проверьте буквы и цифры",
                                    "there is no such activation code: check the letters and digits")),
    (r"^this activation code has been used already$", ("этот код активации уже использован",
                                                       "this activation code has been used already")),
    (r"^this activation code has expired; ask for a new one$", ("срок действия кода истёк: попросите новый код "
                                                                "в управляющей компании",
                                                                "the code has expired: ask your management company "
                                                                "for a new one")),
    (r"^this activation code has expired: a newer code replaced it.*$", ("этот код заменён новым: введите новый код",
                                                                          "a newer code replaced this one: enter the "
                                                                          "new code")),
    (r"^this e-mail is registered with another password$", ("этот e-mail уже зарегистрирован с другим паролем: "
                                                            "введите тот пароль",
                                                            "this e-mail is registered with another password: "
                                                            "enter that password")),
    (r"^a date from (\S+) to (\S+), got .*$", ("дата от {1} до {2}", "a date from {1} to {2}")),
    (r"^a finite number from (\S+) to (\S+), got .*$", ("число от {1} до {2}", "a number from {1} to {2}")),
    (r"^(\d+) tickets in a day at most.*$", ("не больше {1} заявок в сутки; если срочно, позвоните в диспетчерскую",
                                             "at most {1} tickets a day; call the dispatch desk if it is urgent")),
))
_FIELD = re.compile(r"^([a-z_]+): (.+)$", re.DOTALL)


def reason(message: str) -> str:
    """``field: reason`` as the person reads it: «Поле»: причина; anything else unchanged."""
    found = _FIELD.match(message.strip())
    if found is None:
        return message
    field, text = found.groups()
    language = current_language()
    label = t(f"field.{field}", lang=language) if i18n.has(f"field.{field}") else field
    lang = 0 if language == "ru" else 1
    for pattern, texts in _REASONS:
        hit = pattern.match(text)
        if hit:
            text = texts[lang]
            for n, group in enumerate(hit.groups(), start=1):
                text = text.replace(f"{{{n}}}", group)
            break
    return f"«{label}»: {text}"
