"""The one translation table of the UI: every string a person reads goes through ``t``.

Russian is the default language, English the second. The language of a page is the
signed-in browser's choice (``app.storage.user["lang"]``); outside a page or event handler
(tests, scripts) it is the default. Imports nicegui's storage only; tests: tests/ui/.
"""

from __future__ import annotations

from nicegui import app

LANGUAGES: tuple[str, ...] = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
LANG_KEY = "lang"

# key -> (Russian, English). Both are required, so a missing translation fails at import.
_TABLE: dict[str, tuple[str, str]] = {
    # product and frame
    "app.name": ("ДомУчёт", "DomUchet"),
    "app.tagline": ("Дистанционный учёт ресурсов в многоквартирных домах", "Remote metering of apartment buildings"),
    "nav.accounting": ("Учёт", "Accounting"),
    "nav.buildings": ("Объекты", "Buildings"),
    "nav.administration": ("Администрирование", "Administration"),
    "nav.users": ("Пользователи", "Users"),
    "header.logout": ("Выйти", "Log out"),
    "header.reader": ("Только чтение", "Read-only"),
    "header.language": ("Язык интерфейса", "Interface language"),
    "header.city": ("Город", "City"),
    "role.administrator": ("Администратор", "Administrator"),
    "role.dispatcher": ("Диспетчер", "Dispatcher"),
    "role.engineer": ("Сервис-инженер", "Service engineer"),
    "role.reader": ("Читатель", "Reader"),
    # login
    "login.title": ("Вход в систему", "Sign in"),
    "login.login": ("Логин", "Login"),
    "login.password": ("Пароль", "Password"),
    "login.submit": ("Войти", "Sign in"),
    "login.failed": ("Неверный логин или пароль", "Wrong login or password"),
    "login.empty": ("Введите логин и пароль", "Enter your login and password"),
    "login.expired": ("Сеанс завершён. Войдите снова.", "Your session has ended. Please sign in again."),
    # errors
    "error.not_found": ("Не найдено", "Not found"),
    "error.building_not_found": ("Объект не найден или недоступен.", "The building was not found or is not available."),
    "error.premise_not_found": (
        "Помещение не найдено или недоступно.",
        "The premise was not found or is not available.",
    ),
    "error.meter_not_found": ("Прибор учёта не найден или недоступен.", "The meter was not found or is not available."),
    "error.forbidden": ("Нет доступа", "Access denied"),
    "error.forbidden_text": ("Этот раздел недоступен для вашей роли.", "This section is not available for your role."),
    "error.bad_parameter": (
        "Неверный параметр «{name}»: {value}. Показаны значения по умолчанию.",
        "Invalid parameter “{name}”: {value}. Defaults are shown.",
    ),
    "error.invalid_title": ("Запрос не выполнен", "Request not completed"),
    "error.invalid_input": ("Запрос отклонён: {reason}", "Request refused: {reason}"),
    "error.back_to_list": ("К списку объектов", "Back to the building list"),
    # users administration (manual 2.3, 4.6), ui/admin.py
    "users.title": ("Пользователи", "Users"),
    "users.list": ("Пользователи компании", "Users of the company"),
    "users.add": ("Добавить пользователя", "Add a user"),
    "users.login": ("Логин", "Login"),
    "users.full_name": ("ФИО", "Full name"),
    "users.role": ("Роль", "Role"),
    "users.reader": ("Статус «Читатель» (только чтение)", "Reader status (read-only)"),
    "users.reader_short": ("Читатель", "Reader"),
    "users.state": ("Состояние", "State"),
    "users.active": ("Активен", "Active"),
    "users.blocked": ("Заблокирован", "Blocked"),
    "users.block": ("Заблокировать", "Block"),
    "users.unblock": ("Разблокировать", "Unblock"),
    "users.reset_password": ("Сменить пароль", "Reset password"),
    "users.password": ("Начальный пароль", "Initial password"),
    "users.new_password": ("Новый пароль", "New password"),
    "users.password_hint": ("не короче 8 символов", "at least 8 characters"),
    "users.create": ("Создать", "Create"),
    "users.save": ("Сохранить", "Save"),
    "users.cancel": ("Отмена", "Cancel"),
    "users.block_confirm": ("Заблокировать пользователя {login} ({name})? Он не сможет войти, пока его не "
                            "разблокируют.", "Block user {login} ({name})? They cannot sign in until unblocked."),
    "users.yes": ("да", "yes"),
    "users.no": ("нет", "no"),
    "users.created": ("Пользователь {login} создан", "User {login} created"),
    "users.blocked_done": ("Пользователь {login} заблокирован", "User {login} is blocked"),
    "users.unblocked_done": ("Пользователь {login} разблокирован", "User {login} is unblocked"),
    "users.password_done": ("Пароль пользователя {login} изменён", "The password of {login} is changed"),
    "users.you": ("это вы", "you"),
    "login.throttled": ("Слишком много попыток входа. Повторите через {seconds} с.",
                        "Too many login attempts. Try again in {seconds} s."),
    "login.locked": ("Вход заблокирован после многих неверных паролей. Обратитесь к администратору.",
                     "Login is locked after many wrong passwords. Ask your administrator."),
    "users.integration": ("Учётная запись интеграции (только API-токены, без входа по паролю)",
                          "Integration account (API tokens only, no password login)"),
    "users.integration_short": ("интеграция", "integration"),
    "users.login_locked": ("Вход заблокирован после ошибок пароля", "Login locked after wrong passwords"),
    "users.login_unlock": ("Снять блокировку входа", "Lift the login lock"),
    "users.login_unlocked_done": ("Вход для {login} снова открыт", "{login} may log in again"),
    "tokens.title": ("API-токены интеграций", "Integration API tokens"),
    "tokens.hint": (
        "Токен действует от имени своего владельца, с его ролью и правами, для запросов к /api/v1. Администратор "
        "выпускает токены для себя и для учётных записей интеграций; в журнале действие записывается на владельца "
        "токена.",
        "A token acts as its owner, with the owner's role and rights, for requests to /api/v1. An administrator "
        "issues tokens for themself and for integration accounts; the audit log names the token's owner.",
    ),
    "tokens.add": ("Выпустить токен", "Issue a token"),
    "tokens.mine": ("Мои API-токены", "My API tokens"),
    "tokens.mine_hint": (
        "Токен даёт программе доступ к /api/v1 от вашего имени, с вашей ролью и правами; в журнале её действия "
        "записываются на вас. Для интеграции от имени компании администратор заводит учётную запись интеграции.",
        "A token gives a program access to /api/v1 as you, with your role and rights; the audit log records its "
        "actions as yours. For an integration on behalf of the company, the administrator creates an integration "
        "account.",
    ),
    "nav.account": ("Учётная запись", "Account"),
    "tokens.empty": ("Токенов нет.", "No tokens."),
    "tokens.user": ("Пользователь", "User"),
    "tokens.name": ("Назначение", "Purpose"),
    "tokens.days": ("Срок действия, дней", "Valid for, days"),
    "tokens.pick_user": ("Выберите пользователя", "Choose a user"),
    "tokens.copy_now": (
        "Скопируйте токен сейчас: он показывается один раз и не хранится.",
        "Copy the token now: it is shown once and not stored.",
    ),
    "tokens.until": ("действует до {day}", "valid until {day}"),
    "tokens.revoked": ("отозван", "revoked"),
    "tokens.revoke": ("Отозвать", "Revoke"),
    "tokens.revoked_done": ("Токен «{name}» отозван", "Token “{name}” revoked"),
    "audit.title": ("Журнал действий", "Audit log"),
    "audit.empty": ("Действий пока не было.", "No actions yet."),
    "audit.time_in": ("Время ({zone})", "Time ({zone})"),
    "audit.user": ("Кто", "Who"),
    "audit.action": ("Действие", "Action"),
    "audit.object": ("Объект", "Object"),
    "audit.change": ("Изменение", "Change"),
    # resources, units, parameters
    "resource.heat": ("Отопление", "Heating"),
    "resource.hot_water": ("ГВС", "Hot water"),
    "resource.cold_water": ("ХВС", "Cold water"),
    "resource.gas": ("Газ", "Gas"),
    "resource.electricity": ("Электроэнергия", "Electricity"),
    "resource.sewage": ("Водоотведение", "Sewage"),
    "unit.Gcal": ("Гкал", "Gcal"),
    "unit.m3": ("м³", "m³"),
    "unit.kWh": ("кВт·ч", "kWh"),
    "unit.degC": ("°C", "°C"),
    "unit.m2": ("м²", "m²"),
    "unit.percent": ("%", "%"),
    "param.dQ": ("∆Q", "∆Q"),
    "param.dV": ("∆V", "∆V"),
    "param.dE": ("∆E", "∆E"),
    "param.delta": ("∆{code}", "∆{code}"),
    "param.Q": ("Тепловая энергия", "Heat energy"),
    "param.V": ("Объём", "Volume"),
    "param.V1": ("Объём, подающий трубопровод", "Volume, supply pipe"),
    "param.V2": ("Объём, обратный трубопровод", "Volume, return pipe"),
    "param.T1": ("Температура подачи", "Supply temperature"),
    "param.T2": ("Температура обратки", "Return temperature"),
    "param.E": ("Электроэнергия", "Electric energy"),
    # periods
    "granularity.hour": ("По часам", "By hours"),
    "granularity.day": ("По дням", "By days"),
    "granularity.month": ("По месяцам", "By months"),
    "period.prev": ("Предыдущий период", "Previous period"),
    "period.next": ("Следующий период", "Next period"),
    "period.pick": ("Выбрать период", "Pick a period"),
    "month.1": ("январь", "January"),
    "month.2": ("февраль", "February"),
    "month.3": ("март", "March"),
    "month.4": ("апрель", "April"),
    "month.5": ("май", "May"),
    "month.6": ("июнь", "June"),
    "month.7": ("июль", "July"),
    "month.8": ("август", "August"),
    "month.9": ("сентябрь", "September"),
    "month.10": ("октябрь", "October"),
    "month.11": ("ноябрь", "November"),
    "month.12": ("декабрь", "December"),
    "month.short.1": ("янв", "Jan"),
    "month.short.2": ("фев", "Feb"),
    "month.short.3": ("мар", "Mar"),
    "month.short.4": ("апр", "Apr"),
    "month.short.5": ("май", "May"),
    "month.short.6": ("июн", "Jun"),
    "month.short.7": ("июл", "Jul"),
    "month.short.8": ("авг", "Aug"),
    "month.short.9": ("сен", "Sep"),
    "month.short.10": ("окт", "Oct"),
    "month.short.11": ("ноя", "Nov"),
    "month.short.12": ("дек", "Dec"),
    "weekday.0": ("воскресенье", "Sunday"),
    "weekday.1": ("понедельник", "Monday"),
    "weekday.2": ("вторник", "Tuesday"),
    "weekday.3": ("среда", "Wednesday"),
    "weekday.4": ("четверг", "Thursday"),
    "weekday.5": ("пятница", "Friday"),
    "weekday.6": ("суббота", "Saturday"),
    "weekday.short.0": ("Вс", "Sun"),
    "weekday.short.1": ("Пн", "Mon"),
    "weekday.short.2": ("Вт", "Tue"),
    "weekday.short.3": ("Ср", "Wed"),
    "weekday.short.4": ("Чт", "Thu"),
    "weekday.short.5": ("Пт", "Fri"),
    "weekday.short.6": ("Сб", "Sat"),
    "period.month_year": ("{month} {year}", "{month} {year}"),
    "period.year": ("{year} год", "{year}"),
    # data status line
    "status.line": (
        "Данные: {count} значений, последний период {period}",
        "Data: {count} values, latest period {period}",
    ),
    "status.empty": ("Данные: ещё ничего не поступило", "Data: nothing has arrived yet"),
    # building list
    "buildings.title": ("Объекты учёта", "Metered buildings"),
    "buildings.empty": ("Нет доступных объектов.", "No buildings available."),
    "buildings.count": ("Объектов: {count}", "Buildings: {count}"),
    "building.area": ("Площадь", "Area"),
    "building.residents": ("Жильцов", "Residents"),
    "building.premises": ("Помещений", "Premises"),
    "building.meters": ("Приборов учёта", "Meters"),
    # building consumption (4.1.2)
    "building.title": ("Потребление ресурса по объекту", "Resource consumption of the building"),
    "building.no_meters": ("На объекте нет приборов учёта.", "The building has no meters."),
    "controls.resource": ("Ресурс", "Resource"),
    "controls.granularity": ("Разрез", "Breakdown"),
    "controls.period": ("Период", "Period"),
    "controls.channel": ("Канал", "Channel"),
    "series.building": ("ОДПУ", "Building meter"),
    "series.apartments": ("Σ ИПУ", "Σ apartment meters"),
    "series.imbalance": ("Небаланс", "Imbalance"),
    "series.imbalance_pct": ("Небаланс, %", "Imbalance, %"),
    "chart.consumption": ("Потребление, {unit}", "Consumption, {unit}"),
    "chart.imbalance": ("Небаланс, {unit} и %", "Imbalance, {unit} and %"),
    "chart.no_imbalance": (
        "Небаланс рассчитывается, когда объект оборудован и ОДПУ, и ИПУ по ресурсу.",
        "Imbalance needs both a building meter and apartment meters for the resource.",
    ),
    "chart.partial": ("неполные данные", "incomplete data"),
    "col.period": ("Период", "Period"),
    "col.building": ("ОДПУ", "Building meter"),
    "col.apartments": ("Σ ИПУ", "Σ apartment meters"),
    "col.imbalance": ("Небаланс", "Imbalance"),
    "col.imbalance_pct": ("Небаланс, %", "Imbalance, %"),
    "table.values": ("Значения по периодам, {unit}", "Values by period, {unit}"),
    "table.legend": (
        "«–*» — нет архива за период; «1,77*» — известная часть суммы, не по всем приборам; "
        "«—» — данных не ожидалось (нет прибора в эксплуатации).",
        "“–*” — no archive for the period; “1.77*” — the known part of the sum, not all meters; "
        "“—” — nothing was expected (no meter in service).",
    ),
    "table.legend_suspect": (
        "«!» — приращение больше допустимого для прибора: не учтено в сумме.",
        "“!” — an increment above the meter's plausible limit: left out of the sum.",
    ),
    "table.derived": (
        "Архив: {kinds} — у прибора нет архива нужного вида, значения рассчитаны по более подробному.",
        "Archive: {kinds} — the meter keeps no archive of the period's kind; values are derived from a finer one.",
    ),
    # electricity tariff zones (KARAT-941LW); the manual names day and night only
    "tariff.T1": ("T1 (день)", "T1 (day)"),
    "tariff.T2": ("T2 (ночь)", "T2 (night)"),
    "tariff.T3": ("T3", "T3"),
    "tariff.T4": ("T4", "T4"),
    "kpi.building": ("ОДПУ за период", "Building meter, period"),
    "kpi.apartments": ("Σ ИПУ за период", "Σ apartment meters, period"),
    "kpi.imbalance": ("Небаланс за период", "Imbalance, period"),
    "kpi.incomplete": ("данные есть не за все периоды", "data is missing for some periods"),
    "premise.total": ("Итого за {period}: {value}", "Total for {period}: {value}"),
    "kpi.no_building_meter": ("нет ОДПУ", "no building meter"),
    "kpi.no_apartment_meters": ("нет ИПУ", "no apartment meters"),
    # premises and meters of a building (4.1.3)
    "premises.title": ("Помещения", "Premises"),
    "premises.empty": ("Помещения не заведены.", "No premises registered."),
    "col.number": ("№", "No."),
    "col.kind": ("Тип", "Kind"),
    "col.area": ("Площадь, м²", "Area, m²"),
    "col.residents": ("Жильцов", "Residents"),
    "col.account": ("Лицевой счёт", "Account"),
    "col.meters": ("Приборы учёта", "Meters"),
    "premise.kind.apartment": ("Квартира", "Apartment"),
    "premise.kind.nonresidential": ("Нежилое помещение", "Non-residential"),
    "premise.short": ("кв. {number}", "apt. {number}"),
    "meters.title": ("Приборы учёта", "Meters"),
    "meters.common": ("Общедомовые приборы учёта", "Building meters"),
    "meters.individual": ("Индивидуальные приборы учёта", "Apartment meters"),
    "meters.active_only": ("Только активные", "Active only"),
    "meters.empty": ("Приборы учёта не установлены.", "No meters installed."),
    "meter.role.individual": ("ИПУ", "Apartment"),
    "meter.role.common": ("ОДПУ", "Building"),
    "meter.status.in_service": ("В эксплуатации", "In service"),
    "meter.status.commissioning": ("Ввод в эксплуатацию не завершён", "Commissioning not finished"),
    "meter.status.decommissioned": ("Выведен из эксплуатации", "Decommissioned"),
    "meter.serial": ("№ {serial}", "No. {serial}"),
    "meter.communicator": ("Связь", "Link"),
    "meter.archives": ("Архивы", "Archives"),
    "meter.model": ("Модель", "Model"),
    "archive.hour": ("часовые", "hourly"),
    "archive.day": ("суточные", "daily"),
    "archive.month": ("месячные", "monthly"),
    "archive.integral": ("интегральные", "integral"),
    "archive.interval": ("интервальные", "interval"),
    # premise consumption (4.1.6)
    "premise.title": ("Потребление ресурса по помещению", "Resource consumption of the premise"),
    "premise.heading": ("{kind} № {number}", "{kind} No. {number}"),
    "premise.no_meters": (
        "В помещении нет приборов учёта: ресурс недоступен для выбора.",
        "The premise has no meters: no resource to choose.",
    ),
    "premise.facts": (
        "Площадь {area} м² · жильцов {residents} · ЛС {account}",
        "Area {area} m² · residents {residents} · account {account}",
    ),
    "premise.consumption": ("Потребление", "Consumption"),
    # meter archive (4.1.7)
    "meter.title": ("Измерения (архивы) прибора учёта", "Meter measurements (archives)"),
    "meter.heading": ("Прибор учёта № {serial}", "Meter No. {serial}"),
    "meter.channel": ("{resource} · канал {number}", "{resource} · channel {number}"),
    "meter.nature": ("Архив: {nature}", "Archive: {nature}"),
    "meter.no_channels": ("У прибора нет измерительных каналов.", "The meter has no measuring channels."),
    "archive.parameters": ("Параметры", "Parameters"),
    "archive.hint": ("Нажмите на строку параметра, чтобы построить его график.", "Click a parameter row to chart it."),
    "archive.table": ("Архив прибора учёта", "Meter archive"),
    "archive.empty": ("Архивов за период нет.", "No archives for the period."),
    "col.parameter": ("Параметр", "Parameter"),
    "col.description": ("Описание", "Description"),
    "col.unit": ("Ед. изм.", "Unit"),
    "col.count": ("Значений", "Values"),
    "col.min": ("Мин.", "Min"),
    "col.max": ("Макс.", "Max"),
    "col.last": ("Последнее", "Latest"),
    "chart.parameter": ("{parameter}, {unit}", "{parameter}, {unit}"),
    # monitoring: data-arrival control (4.2.3), ui/arrival_page.py; commands to the edge
    "nav.monitoring": ("Мониторинг", "Monitoring"),
    "nav.data": ("Данные", "Data"),
    "nav.deviations": ("Отклонения", "Deviations"),
    "nav.events": ("События", "Events"),
    "nav.lora": ("LoRa", "LoRa"),
    "nav.temperature": ("Температурный график", "Temperature schedule"),
    "nav.service": ("Сервис", "Service"),
    "nav.season": ("Сезон", "Season"),
    "nav.settings": ("Настройки", "Settings"),
    "nav.settings_buildings": ("Объекты", "Buildings"),
    "nav.imbalance": ("Небаланс", "Imbalance"),
    "nav.subscriptions": ("Подписка на события", "Event subscriptions"),
    # section «Сервис» and its settings (manual 4.5, 4.6.9, 4.6.11, 4.6.12)
    "nav.service_meters": ("Приборы", "Meters"),
    "nav.verification": ("Поверка", "Verification"),
    "nav.operations": ("Операции", "Operations"),
    "nav.communicators": ("Связь", "Communication"),
    "nav.power": ("Ограничение потребления", "Power limitation"),
    "nav.desk": ("Диспетчерская", "Dispatch desk"),
    "nav.notices": ("Уведомления", "Notices"),
    "nav.billing": ("Биллинг", "Billing"),
    "nav.norms": ("Нормативы потребления", "Consumption norms"),
    "nav.reports": ("Отчёты", "Reports"),
    "nav.reports_list": ("Отчёты и ведомости", "Reports"),
    "nav.billing_section": ("Биллинг", "Billing"),
    "nav.billing_document": ("Документ для биллинга", "Billing document"),
    "nav.billing_runs": ("Протоколы выгрузки", "Export protocols"),
    "nav.billing_centres": ("Расчётные центры", "Billing centres"),
    "nav.relays": ("Реле мощности", "Relay thresholds"),
    "nav.deadlines": ("Сроки выполнения СО", "Service deadlines"),
    "nav.company": ("Компания", "Company"),
    "nav.profile": ("Профиль", "Profile"),
    "error.page_not_found": ("Страница не найдена", "Page not found"),
    "error.page_not_found_text": ("Такой страницы нет. Проверьте адрес или выберите раздел в меню слева.",
                                  "There is no such page. Check the address or choose a section in the menu."),
    "arrival.title": ("Контроль поступления данных учёта ресурса", "Metering data arrival control"),
    "arrival.subtitle": (
        "Полнота архивов приборов учёта по периодам: получено, нет данных, утрачено на приборе",
        "Completeness of meter archives per period: received, missing, lost on the device",
    ),
    "arrival.building": ("Объект", "Building"),
    "arrival.role": ("Тип ПУ", "Meter type"),
    "arrival.role.all": ("Все", "All"),
    "arrival.kind": ("Тип архива", "Archive kind"),
    "arrival.kind.hour": ("Часовой", "Hourly"),
    "arrival.kind.day": ("Суточный", "Daily"),
    "arrival.kind.month": ("Месячный", "Monthly"),
    "arrival.kpi.completeness": ("Полнота данных", "Completeness"),
    "arrival.kpi.received": ("Получено периодов", "Periods received"),
    "arrival.kpi.missing": ("Нет данных", "Missing"),
    "arrival.kpi.lost": ("Утрачено на приборе", "Lost on the device"),
    "arrival.meters": ("Приборы учёта объекта", "Meters of the building"),
    "arrival.no_meters": (
        "Нет приборов учёта в эксплуатации с таким ресурсом и типом архива.",
        "No meters in service with this resource and archive kind.",
    ),
    "arrival.backfill": ("Запросить недостающие архивы", "Request the missing archives"),
    "arrival.no_gaps": ("Пропусков за период нет", "No gaps in the period"),
    "arrival.backfill_sent": ("Отправлено запросов: {count}", "Requests sent: {count}"),
    "arrival.col.meter": ("№ ПУ", "Meter"),
    "arrival.col.role": ("Тип", "Type"),
    "arrival.col.premise": ("Помещение", "Premise"),
    "arrival.col.received": ("Получено", "Received"),
    "arrival.col.missing": ("Нет данных", "Missing"),
    "arrival.col.lost": ("Утрачено", "Lost"),
    "arrival.col.completeness": ("Полнота, %", "Complete, %"),
    "arrival.col.backfill": ("Запрос архивов", "Archive request"),
    "arrival.status.received": ("получено", "received"),
    "arrival.status.partial": ("не по всем каналам", "not all channels"),
    "arrival.status.missing": ("нет данных", "missing"),
    "arrival.status.lost": ("утрачено на приборе", "lost on the device"),
    "arrival.status.not_due": ("период не завершён", "period not over"),
    "arrival.status.not_expected": ("вне периода эксплуатации", "outside the service period"),
    "arrival.event": ("Сообщение прибора", "Device message"),
    "arrival.event_hint": ("сообщение прибора (наведите на период)", "device message (hover the period)"),
    "arrival.severity.info": ("информационное", "info"),
    "arrival.severity.warning": ("предупреждение", "warning"),
    "arrival.severity.alarm": ("аварийное", "alarm"),
    "arrival.commands": ("Запросы архивов у приборов", "Archive requests to the devices"),
    "arrival.commands.empty": ("Запросов не было.", "No requests yet."),
    "commands.title": ("Команды прибору", "Commands to the meter"),
    "commands.col.created": ("Создана", "Created"),
    "commands.col.type": ("Команда", "Command"),
    "commands.col.range": ("Период", "Period"),
    "commands.col.state": ("Состояние", "State"),
    "commands.col.by": ("Кто", "Who"),
    "commands.col.result": ("Результат", "Result"),
    "commands.state.created": ("ожидает отправки", "waiting to be sent"),
    "commands.state.sent": ("отправлена", "sent"),
    "commands.state.acknowledged": ("принята шлюзом", "accepted by the gateway"),
    "commands.state.done": ("выполнена", "done"),
    "commands.state.failed": ("ошибка", "failed"),
    "commands.state.timed_out": ("нет ответа", "timed out"),
    "commands.type.backfill": ("Дочитать архивы", "Read archives again"),
    "commands.type.time_sync": ("Синхронизация времени", "Time sync"),
    "commands.type.relay": ("Реле мощности", "Power relay"),
    "commands.type.meter_config": ("Состав приборов", "Meter list"),
    "commands.type.availability": ("Тест на доступность", "Availability test"),
    "commands.type.read_current": ("Текущие показания", "Current readings"),
}


def extend(table: dict[str, tuple[str, str]]) -> None:
    """Add a page module's own texts (key -> (Russian, English)); a key already taken with another
    text is an error, so two modules can never silently disagree on a text (the same text again
    is fine: a module imported anew, as the UI tests do, repeats its call)."""
    taken = sorted(key for key in set(table) & set(_TABLE) if _TABLE[key] != table[key])
    if taken:
        raise ValueError(f"translation keys defined twice: {', '.join(taken)}")
    for key, (ru, en) in table.items():
        if not ru or not en:
            raise ValueError(f"translation {key!r} needs both a Russian and an English text")
    _TABLE.update(table)


def current_language() -> str:
    """The language of the current page: the user's choice, or the default outside a page."""
    try:
        lang = app.storage.user.get(LANG_KEY, DEFAULT_LANGUAGE)
    except RuntimeError:  # no page or event handler: no browser whose choice could apply
        return DEFAULT_LANGUAGE
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def set_language(lang: str) -> None:
    """Remember ``lang`` for the signed-in browser (takes effect on the next page build)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    app.storage.user[LANG_KEY] = lang


def t(key: str, *, lang: str | None = None, **kw: object) -> str:
    """The text of ``key`` in the page's language, with ``{name}`` fields filled from ``kw``."""
    ru, en = _TABLE[key]
    text = en if (lang or current_language()) == "en" else ru
    return text.format(**kw) if kw else text


def has(key: str) -> bool:
    """Whether the table has ``key`` (for names that come from data, such as units)."""
    return key in _TABLE


def keys() -> tuple[str, ...]:
    """All keys of the table (for tests that check both languages)."""
    return tuple(_TABLE)
