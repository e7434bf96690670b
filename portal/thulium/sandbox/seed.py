"""Demo data of the sandbox: three campaigns that differ where real ones do.

The status ids of MY_RECORD and CALL_NO_SOONER_THAN differ between campaigns, and ids
come as strings or numbers, so code that hard-codes ids or types fails against the
sandbox as it would against Thulium.
"""


def _status(system_status, status_id, dictionary_status_id, name):
    return {
        "system_status": system_status,
        "status_id": status_id,
        "dictionary_status_id": dictionary_status_id,
        "name": name,
    }


def _agent(login, number, agent_id, active_in_outbound=True):
    return {
        "login": login,
        "number": number,
        "active": True,
        "active_in_outbound": active_in_outbound,
        "agent_id": agent_id,
    }


def _sales():
    return {
        "id": "00001",
        "name": "Sprzedaż OZE 2026",
        "type": "CSV",
        "fields": ["imie", "nazwisko", "miasto"],
        "dialer": "progressive",
        "active": True,
        "start_date": "2026-01-05",
        "end_date": "2026-12-31",
        "order": 50,
        "parity": 50,
        "group_id": 15,
        "parameters": {
            "caller_id": "221234567",
            "preview_timeout": 30,
            "predictive_max_calls": 3,
            "predictive_min_calls": 1,
        },
        "statuses": [
            _status("TO_CALL", "1", None, "Do zadzwonienia"),
            _status("CALL", "3", 2, "Kontakt potrzebny"),
            _status("MY_RECORD", "5", 4, "Mój rekord"),
            _status("NO_CALL", 7, 8, "Nie dzwonić"),
            _status("CALL_NO_SOONER_THAN", 8, None, "Oddzwonić nie wcześniej niż"),
            _status("CUSTOM_CALLBACK", "12", 15, "Klient prosi o kontakt"),
        ],
        "agents": [
            _agent("jkowalski", "3113", 12),
            _agent("anowak", "3114", 14),
            _agent("p.wisniewski", "3120", 19, active_in_outbound=False),
        ],
    }


def _collections():
    return {
        "id": "00002",
        "name": "Windykacja CRM",
        "type": "CRM",
        "fields": [],
        "dialer": "preview",
        "active": True,
        "start_date": "2026-02-01",
        "end_date": "2026-06-30",
        "order": 10,
        "parity": 30,
        "group_id": 7,
        "parameters": {
            "caller_id": "587654321",
            "preview_timeout": 60,
            "predictive_max_calls": 2,
            "predictive_min_calls": 1,
        },
        "statuses": [
            _status("TO_CALL", 1, None, "Nowy dłużnik"),
            _status("CALL", "2", 2, "Do kontaktu"),
            _status("CALL_NO_SOONER_THAN", "4", 6, "Termin płatności"),
            _status("NO_CALL", 9, 8, "Spłacone"),
            _status("MY_RECORD", 11, None, "Prowadzi opiekun"),
            _status("CUSTOM_CALLBACK", "14", 15, "Prośba o oddzwonienie"),
        ],
        "agents": [
            _agent("jkowalski", "3113", 12),
            _agent("m.zielinska", "3131", 23),
        ],
    }


def _survey():
    return {
        "id": "A7K2Q",
        "name": "Ankieta satysfakcji",
        "type": "CSV",
        "fields": ["ocena", "komentarz"],
        "dialer": "predictive",
        "active": False,
        "start_date": "2026-03-01",
        "end_date": "2026-03-31",
        "order": 99,
        "parity": 20,
        "group_id": 15,
        "parameters": {
            "caller_id": "221234500",
            "preview_timeout": 20,
            "predictive_max_calls": 2.5,
            "predictive_min_calls": 1.2,
        },
        "statuses": [
            _status("TO_CALL", "21", None, "Do ankiety"),
            _status("CALL", 22, 3, "Ponowić"),
            _status("CALL_NO_SOONER_THAN", 23, None, "Umówiony termin"),
            _status("NO_CALL", "24", 8, "Odmowa"),
            _status("CUSTOM_CALLBACK", 25, 15, "Oddzwonić"),
            _status("MY_RECORD", "27", 4, "Ankieter prowadzący"),
        ],
        "agents": [
            _agent("anowak", "3114", 14),
            _agent("p.wisniewski", "3120", 19),
        ],
    }


def generated_campaign(number):
    """The `number`-th of many made-up campaigns (from 1), for lists of hundreds.

    Their settings vary in a fixed way (every dialer, both kinds, active or not, a few
    groups, shared orders split by parity), so filters and sorting have something to find.
    """
    dialers = ("progressive", "preview", "predictive")
    survey = _survey()
    return {
        **survey,
        "id": f"G{number:04d}",
        "name": f"Kampania {number:04d}",
        "type": "CRM" if number % 4 == 0 else "CSV",
        "fields": [] if number % 4 == 0 else survey["fields"],
        "dialer": dialers[number % 3],
        "active": number % 2 == 1,
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "order": 10 * (number % 7 + 1),
        "parity": number % 5 * 20 + 10,
        "group_id": number % 3 + 1,
        "parameters": {**survey["parameters"], "predictive_max_calls": 3,
                       "predictive_min_calls": 1},
    }


def seed_campaigns():
    """Fresh campaign dicts keyed by id; new objects on every call so resets are clean."""
    return {campaign["id"]: campaign for campaign in (_sales(), _collections(), _survey())}
