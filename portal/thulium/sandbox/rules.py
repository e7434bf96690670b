"""Validation rules of the sandbox's endpoints (campaign update, record additions one by
one or in a batch, the records list's query), and error texts.

Each rule check returns problems as `(message key, format arguments)`; the public
functions turn them into Thulium's documented error items `{"message", "code"}` in the
request's language. Codes are the sandbox's own (Thulium does not document their
meaning) but stable per rule, so tests and logs can rely on them.

Undocumented: Thulium states no limits for these, and the sandbox applies the portal's
own (its forms refuse the same first, so tests confirm the portal against itself here, not
against Thulium): a phone number of 6 to 15 digits (Thulium's examples add "441" and
"5555"; a person to call has more), a name of at most 255 characters, an end date not
before the start, predictive_min_calls not above predictive_max_calls, a caller id of 1 to
20 digits without "+", an identifier of at most 64 characters, and a dictionary status
one of the campaign's statuses names (the API lists no global dictionary).
"""

import math
import re
from datetime import date, datetime

# key: (code, English, Polish)
MESSAGES = {
    "unauthorized": (401, "Unauthorized", "Brak autoryzacji"),
    "not_found": (404, "Not found.", "Nie znaleziono zasobu."),
    "method_not_allowed": (405, "Method not allowed.", "Niedozwolona metoda."),
    "refused": (999, "Sandbox: refused on request.", "Sandbox: odmowa na żądanie."),
    "invalid_json": (
        100,
        "Request body is not valid JSON.",
        "Treść żądania nie jest poprawnym JSON-em.",
    ),
    "body_not_object": (
        101,
        "Request body must be a JSON object.",
        "Treść żądania musi być obiektem JSON.",
    ),
    "unknown_parameter": (102, "Unknown parameter: {name}.", "Nieznany parametr: {name}."),
    "campaign_not_found": (104, "Campaign not found.", "Nie znaleziono kampanii."),
    # Undocumented: Thulium's words for a method the API user may not call are unknown.
    "no_permission": (
        105,
        "You have no permission to use this API method.",
        "Brak uprawnień do tej metody API.",
    ),
    # PUT outbounds/:id
    "name": (
        201,
        "Name must be a non-empty text of at most 255 characters.",
        "Nazwa musi być niepustym tekstem o długości do 255 znaków.",
    ),
    "dialer": (
        202,
        "Dialer must be one of: predictive, progressive, preview.",
        "Dialer musi mieć jedną z wartości: predictive, progressive, preview.",
    ),
    "active": (
        203,
        "Active must be true or false.",
        "Pole active musi mieć wartość true lub false.",
    ),
    "start_date": (
        204,
        "Wrong format of start date (expected YYYY-MM-DD).",
        "Nieprawidłowy format daty rozpoczęcia (oczekiwano RRRR-MM-DD).",
    ),
    "end_date": (
        205,
        "Wrong format of end date (expected YYYY-MM-DD).",
        "Nieprawidłowy format daty zakończenia (oczekiwano RRRR-MM-DD).",
    ),
    "end_before_start": (
        206,
        "End date cannot be earlier than start date.",
        "Data zakończenia nie może być wcześniejsza niż data rozpoczęcia.",
    ),
    "campaign_order": (
        207,
        "Order must be an integer from 1 to 99999.",
        "Kolejność musi być liczbą całkowitą z zakresu 1-99999.",
    ),
    "parity": (
        208,
        "Parity must be an integer from 1 to 100.",
        "Parytet musi być liczbą całkowitą z zakresu 1-100.",
    ),
    "group_id": (
        209,
        "Group id must be a positive integer.",
        "Id grupy musi być dodatnią liczbą całkowitą.",
    ),
    "parameters": (210, "Parameters must be an object.", "Parametry muszą być obiektem."),
    "unknown_campaign_parameter": (
        211,
        "Unknown campaign parameter: {name}.",
        "Nieznany parametr kampanii: {name}.",
    ),
    "caller_id": (
        212,
        "Caller id must be 1 to 20 digits.",
        "Numer prezentacji (caller_id) musi składać się z 1-20 cyfr.",
    ),
    "preview_timeout": (
        213,
        "Preview timeout must be a positive integer.",
        "Czas podglądu (preview_timeout) musi być dodatnią liczbą całkowitą.",
    ),
    "predictive_max_calls": (
        214,
        "predictive_max_calls must be a positive number.",
        "predictive_max_calls musi być liczbą dodatnią.",
    ),
    "predictive_min_calls": (
        215,
        "predictive_min_calls must be a positive number.",
        "predictive_min_calls musi być liczbą dodatnią.",
    ),
    "min_above_max": (
        216,
        "predictive_min_calls cannot be greater than predictive_max_calls.",
        "predictive_min_calls nie może być większe niż predictive_max_calls.",
    ),
    # POST outbounds/:id/records
    "phone_required": (301, "Phone number is required.", "Numer telefonu jest wymagany."),
    # The message is the doc's own example (page error_handling), and so is its code.
    "phone_format": (
        111111,
        "Wrong format of phone number.",
        "Nieprawidłowy format numeru telefonu.",
    ),
    # Undocumented: Thulium refuses duplicates, but its message text is unknown.
    "phone_duplicate": (
        303,
        "Phone number already exists in the campaign.",
        "Numer telefonu już istnieje w kampanii.",
    ),
    "status_id": (
        304,
        "Status {name} does not exist in the campaign.",
        "Status {name} nie istnieje w kampanii.",
    ),
    "dictionary_status_id": (
        305,
        "Dictionary status {name} does not exist in the campaign.",
        "Status słownikowy {name} nie istnieje w kampanii.",
    ),
    "agent_login": (
        306,
        "Agent {name} is not assigned to the campaign.",
        "Agent {name} nie jest przypisany do kampanii.",
    ),
    "agent_required": (
        307,
        "Agent login is required for system status {name}.",
        "Login agenta jest wymagany dla statusu systemowego {name}.",
    ),
    "next_call_date": (
        308,
        "Wrong format of next call date (expected YYYY-MM-DD hh:mm).",
        "Nieprawidłowy format daty następnego kontaktu (oczekiwano RRRR-MM-DD gg:mm).",
    ),
    "next_call_date_required": (
        309,
        "Next call date is required for system status {name}.",
        "Data następnego kontaktu jest wymagana dla statusu systemowego {name}.",
    ),
    "identifier": (
        310,
        "Identifier must be a non-empty text of at most 64 characters.",
        "Identyfikator musi być niepustym tekstem o długości do 64 znaków.",
    ),
    "identifier_duplicate": (
        311,
        "Identifier already exists in the campaign.",
        "Identyfikator już istnieje w kampanii.",
    ),
    "record_order": (312, "Order must be an integer.", "Kolejność musi być liczbą całkowitą."),
    "record_fields": (
        313,
        "Record fields must be an object.",
        "Pola rekordu muszą być obiektem.",
    ),
    "record_fields_crm": (
        314,
        "Campaign fields can be set only in non-CRM campaigns.",
        "Wartości pól kampanii można ustawiać tylko w kampaniach nie CRM.",
    ),
    "unknown_field": (
        315,
        "Field {name} does not exist in the campaign.",
        "Pole {name} nie istnieje w kampanii.",
    ),
    "field_value": (
        316,
        "Value of field {name} must be text.",
        "Wartość pola {name} musi być tekstem.",
    ),
    # POST batch/outbounds/:id/records
    "batch_records": (
        320,
        "Records must be a list of objects.",
        "Rekordy muszą być listą obiektów.",
    ),
    "batch_too_large": (
        321,
        "At most {name} records can be added at once.",
        "Jednorazowo można dodać najwyżej {name} rekordów.",
    ),
    # GET outbounds/:id/records, GET outbounds
    "limit": (
        401,
        "Limit must be an integer from 1 to 100.",
        "Limit musi być liczbą całkowitą z zakresu 1-100.",
    ),
    "offset": (
        402,
        "Offset must be an integer of at least 0.",
        "Przesunięcie (offset) musi być liczbą całkowitą nie mniejszą niż 0.",
    ),
    "create_date_filter": (
        403,
        "Wrong format of {name} (expected YYYY-MM-DD).",
        "Nieprawidłowy format {name} (oczekiwano RRRR-MM-DD).",
    ),
}

CAMPAIGN_KEYS = frozenset(
    {
        "name",
        "dialer",
        "active",
        "start_date",
        "end_date",
        "order",
        "parity",
        "parameters",
        "group_id",
    }
)
RECORD_KEYS = frozenset(
    {
        "phone_number",
        "status_id",
        "dictionary_status_id",
        "identifier",
        "agent_login",
        "next_call_date",
        "record_fields",
        "order",
    }
)
DIALERS = ("predictive", "progressive", "preview")
# Undocumented: Thulium's batch size limit is unknown. The sandbox refuses bigger batches,
# so clients must send chunks (real Thulium may allow fewer).
MAX_BATCH = 1000
# Documented: lists page by at most 100.
MAX_LIMIT = 100
_DUPLICATE_CODES = frozenset(
    {MESSAGES["phone_duplicate"][0], MESSAGES["identifier_duplicate"][0]}
)

# Python's fromisoformat/strptime accept more than the doc's formats, so shape comes first.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
_PHONE = re.compile(r"\+?\d{6,15}")
_CALLER_ID = re.compile(r"\d{1,20}")


def language(accept_language):
    """'pl' when the client asks for Polish (as Thulium does), else 'en'."""
    return "pl" if (accept_language or "").strip().lower().startswith("pl") else "en"


def error(key, lang, **fmt):
    """One documented error item in the given language."""
    code, english, polish = MESSAGES[key]
    text = polish if lang == "pl" else english
    return {"message": text.format(**fmt), "code": code}


def campaign_update_errors(body, campaign, lang):
    """Errors of a PUT outbounds/:id body against the campaign as stored; [] if valid."""
    problems = _unknown_keys(body, CAMPAIGN_KEYS, "unknown_parameter")
    problems += [
        (key, {})
        for field, (is_valid, key) in _CAMPAIGN_SCALARS.items()
        if field in body and not is_valid(body[field])
    ]
    problems += _date_order_problems(body, campaign)
    problems += _parameter_problems(body, campaign["parameters"])
    return [error(key, lang, **fmt) for key, fmt in problems]


def record_errors(body, campaign, records, lang):
    """Errors of a POST outbounds/:id/records body against the campaign; [] if valid."""
    problems = _unknown_keys(body, RECORD_KEYS, "unknown_parameter")
    problems += _phone_problems(body, records)
    problems += _status_problems(body, campaign["statuses"])
    problems += _agent_problems(body, campaign["agents"])
    problems += _next_call_date_problems(body)
    problems += _identifier_problems(body, records)
    if "order" in body and not _is_int(body["order"]):
        problems.append(("record_order", {}))
    problems += _record_field_problems(body, campaign)
    return [error(key, lang, **fmt) for key, fmt in problems]


def batch_errors(body, lang):
    """Errors of a POST batch/outbounds/:id/records body as a whole; [] if valid.

    Each record is then checked by `record_errors`, exactly as a single POST's body.
    """
    problems = _unknown_keys(body, {"records"}, "unknown_parameter")
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        problems.append(("batch_records", {}))
    elif len(records) > MAX_BATCH:
        problems.append(("batch_too_large", {"name": MAX_BATCH}))
    return [error(key, lang, **fmt) for key, fmt in problems]


def only_duplicates(errors):
    """True when a record was refused only for a phone number or identifier already held."""
    return bool(errors) and all(item["code"] in _DUPLICATE_CODES for item in errors)


def records_query(query, lang):
    """The paging and date filter of GET outbounds/:id/records, and its errors.

    `query` is parse_qs's dict; returns ({"limit", "offset", "create_date_from",
    "create_date_to"}, errors), the dates as "YYYY-MM-DD" text or None.
    """
    values = {name: query.get(name, [None])[-1] for name in _RECORDS_QUERY}
    paging, problems = _paging(values)
    for name in ("create_date_from", "create_date_to"):
        if values[name] is not None and _parse_date(values[name]) is None:
            problems.append(("create_date_filter", {"name": name}))
    parsed = {**values, **paging}
    return parsed, [error(key, lang, **fmt) for key, fmt in problems]


def list_query(query, lang):
    """The paging of a list such as GET outbounds: ({"limit", "offset"}, errors)."""
    paging, problems = _paging({name: query.get(name, [None])[-1]
                                for name in ("limit", "offset")})
    return paging, [error(key, lang, **fmt) for key, fmt in problems]


def _paging(values):
    """`limit` (at most MAX_LIMIT, the default) and `offset` of a list's query text, and
    the keys of their problems."""
    problems = []
    limit = _query_int(values["limit"], MAX_LIMIT)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        problems.append(("limit", {}))
    offset = _query_int(values["offset"], 0)
    if offset is None:
        problems.append(("offset", {}))
    return {"limit": limit, "offset": offset}, problems


# --- value shapes -------------------------------------------------------------------


def _is_int(value):
    # bool is an int subclass in Python but not a number in JSON.
    return type(value) is int


def _is_int_in(value, low, high=math.inf):
    return _is_int(value) and low <= value <= high


def _is_positive_number(value):
    return type(value) in (int, float) and math.isfinite(value) and value > 0


def _is_text(value, max_length):
    return isinstance(value, str) and 0 < len(value) <= max_length


def _matches(pattern, value):
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _parse_date(value):
    """The date of a strict YYYY-MM-DD calendar date, else None."""
    if not _matches(_DATE, value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _is_date_time(value):
    if not _matches(_DATE_TIME, value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M")
    except ValueError:
        return False
    return True


def _id_text(value):
    """Ids come as strings or numbers (the doc says so); compare them as text."""
    if isinstance(value, str) or _is_int(value):
        return str(value)
    return None


_RECORDS_QUERY = ("limit", "offset", "create_date_from", "create_date_to")


def _query_int(text, default):
    """A query parameter of digits as an int, the default when absent, else None."""
    if text is None:
        return default
    return int(text) if text.isascii() and text.isdigit() else None


def _unknown_keys(mapping, allowed, key):
    return [(key, {"name": name}) for name in mapping if name not in allowed]


# --- PUT outbounds/:id --------------------------------------------------------------

_CAMPAIGN_SCALARS = {
    "name": (lambda v: _is_text(v, 255), "name"),
    "dialer": (lambda v: isinstance(v, str) and v in DIALERS, "dialer"),
    "active": (lambda v: isinstance(v, bool), "active"),
    "start_date": (lambda v: _parse_date(v) is not None, "start_date"),
    "end_date": (lambda v: _parse_date(v) is not None, "end_date"),
    "order": (lambda v: _is_int_in(v, 1, 99999), "campaign_order"),
    "parity": (lambda v: _is_int_in(v, 1, 100), "parity"),
    "group_id": (lambda v: _is_int_in(v, 1), "group_id"),
}

_PARAMETER_CHECKS = {
    "caller_id": lambda v: _matches(_CALLER_ID, v),
    "preview_timeout": lambda v: _is_int_in(v, 1),
    "predictive_max_calls": _is_positive_number,
    "predictive_min_calls": _is_positive_number,
}


def _date_order_problems(body, campaign):
    """A sent date must fit the other one, sent or stored."""
    if "start_date" not in body and "end_date" not in body:
        return []
    start = _parse_date(body.get("start_date", campaign["start_date"]))
    end = _parse_date(body.get("end_date", campaign["end_date"]))
    if start and end and end < start:
        return [("end_before_start", {})]
    return []


def _parameter_problems(body, stored):
    if "parameters" not in body:
        return []
    parameters = body["parameters"]
    if not isinstance(parameters, dict):
        return [("parameters", {})]
    problems = _unknown_keys(parameters, _PARAMETER_CHECKS, "unknown_campaign_parameter")
    problems += [
        (name, {})
        for name, is_valid in _PARAMETER_CHECKS.items()
        if name in parameters and not is_valid(parameters[name])
    ]
    merged = {**stored, **parameters}
    low, high = merged.get("predictive_min_calls"), merged.get("predictive_max_calls")
    if _is_positive_number(low) and _is_positive_number(high) and low > high:
        problems.append(("min_above_max", {}))
    return problems


# --- POST outbounds/:id/records -----------------------------------------------------


def _phone_problems(body, records):
    if "phone_number" not in body:
        return [("phone_required", {})]
    phone = body["phone_number"]
    if not _matches(_PHONE, phone):
        return [("phone_format", {})]
    # Undocumented: whether Thulium normalises numbers (+48...) before its duplicate
    # check is unknown; the sandbox compares them exactly as stored.
    if any(record["phone_number"] == phone for record in records):
        return [("phone_duplicate", {})]
    return []


def _status_problems(body, statuses):
    """Known status ids, and the fields the chosen status's system status requires."""
    problems = []
    chosen = None
    if "status_id" in body:
        wanted = _id_text(body["status_id"])
        chosen = next((s for s in statuses if _id_text(s["status_id"]) == wanted), None)
        if chosen is None:
            problems.append(("status_id", {"name": body["status_id"]}))
    if "dictionary_status_id" in body:
        wanted = _id_text(body["dictionary_status_id"])
        known = {_id_text(s["dictionary_status_id"]) for s in statuses}
        if wanted is None or wanted not in known:
            problems.append(("dictionary_status_id", {"name": body["dictionary_status_id"]}))
    if chosen is not None:
        problems += _required_by_system_status(body, chosen["system_status"])
    return problems


def _required_by_system_status(body, system_status):
    """The doc's rule, decided by system status because status ids differ per campaign."""
    problems = []
    if system_status == "MY_RECORD" and "agent_login" not in body:
        problems.append(("agent_required", {"name": system_status}))
    if system_status in ("MY_RECORD", "CALL_NO_SOONER_THAN") and "next_call_date" not in body:
        problems.append(("next_call_date_required", {"name": system_status}))
    return problems


def _agent_problems(body, agents):
    if "agent_login" not in body:
        return []
    login = body["agent_login"]
    if isinstance(login, str) and any(agent["login"] == login for agent in agents):
        return []
    return [("agent_login", {"name": login})]


def _next_call_date_problems(body):
    if "next_call_date" in body and not _is_date_time(body["next_call_date"]):
        return [("next_call_date", {})]
    return []


def _identifier_problems(body, records):
    if "identifier" not in body:
        return []
    identifier = body["identifier"]
    if not _is_text(identifier, 64):
        return [("identifier", {})]
    if any(record.get("identifier") == identifier for record in records):
        return [("identifier_duplicate", {})]
    return []


def _record_field_problems(body, campaign):
    if "record_fields" not in body:
        return []
    fields = body["record_fields"]
    if not isinstance(fields, dict):
        return [("record_fields", {})]
    if campaign["type"] == "CRM":
        return [("record_fields_crm", {})]
    problems = [
        ("unknown_field", {"name": name}) for name in fields if name not in campaign["fields"]
    ]
    # An empty string is valid: the doc says it clears the field.
    problems += [
        ("field_value", {"name": name})
        for name, value in fields.items()
        if name in campaign["fields"] and not isinstance(value, str)
    ]
    return problems
