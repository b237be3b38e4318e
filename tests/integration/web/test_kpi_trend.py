"""The KPI page's trend: two kept business days drawn as "DDO over time" and
"Recovered over time" (a bar and its number a day, no script), and every kept
day as ``/kpis/history.csv``, the same rows ``fleet kpis --history`` prints."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from matching.kpi_history import HISTORY_COLUMNS, record_day
from store.db import transaction
from store.repositories import deductions, kpi_days
from tests.integration.store import factories
from tests.integration.web.conftest import TODAY, WebStore
from tests.integration.web.test_kpis import _fleet

YESTERDAY = TODAY - timedelta(days=1)


def _section(page: str, name: str) -> str:
    return page.split(f'id="kpi-{name}"')[1].split("</section>")[0]


def test_two_kept_days_are_drawn_and_downloadable(web: WebStore, tmp_path: Path) -> None:
    noon = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
    with transaction(web.db) as s:
        assert record_day(s, YESTERDAY, noon - timedelta(days=1))
        deductions.upsert(
            s, factories.deduction("TR-1", amount=Decimal("600.00"), deduction_date=TODAY)
        )
        assert record_day(s, TODAY, noon)
    kept = json.loads(_fleet(tmp_path, "--history", "--json"))["history"]
    assert [d["business_day"] for d in kept] == [YESTERDAY.isoformat(), TODAY.isoformat()]

    ana = web.login("ana")
    page = ana.client.get("/kpis").text
    assert "<script" not in page.split("</head>")[1]
    for name, key, title in (
        ("ddo_history", "ddo_days", "DDO over time"),
        ("recovered_history", "amount_recovered", "Recovered over time"),
    ):
        section = _section(page, name)
        assert title in section
        rows = [
            [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1], re.S)
        ]
        assert rows == [[d["business_day"], str(d[key])] for d in kept], name
        drawn = section.split("<svg")[1]
        assert drawn.count("<rect") == 2, "a bar a day"
        for d in kept:  # the number beside each bar
            assert f">{d[key]}</text>" in drawn
        assert ana.client.get(f"/kpis/{name}.csv").status_code == 200

    download = ana.client.get("/kpis/history.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == list(HISTORY_COLUMNS)
    assert [r[0] for r in rows[1:]] == [YESTERDAY.isoformat(), TODAY.isoformat()]
    assert [r[2] for r in rows[1:]] == [d["open_amount"] for d in kept]
    assert [r[4] for r in rows[1:]] == [d["amount_recovered"] for d in kept]

    printed = _fleet(tmp_path, "--history")
    for day in (YESTERDAY, TODAY):
        assert day.isoformat() in printed
    assert kept[1]["open_amount"] in printed


def test_the_win_rate_is_drawn_day_by_day(web: WebStore) -> None:
    """Days with decided disputes get a bar (the rate in percent); a day without
    any has no rate and no bar."""
    noon = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
    with transaction(web.db) as s:
        for day, rate in ((YESTERDAY - timedelta(days=1), None), (YESTERDAY, 0.5), (TODAY, 0.75)):
            kpi_days.put(
                s, day, deductions=3, open_amount=Decimal("10.00"), ddo_days=12.5,
                amount_recovered=Decimal("5.00"), dispute_win_rate=rate, recorded_at=noon,
            )  # fmt: skip
    section = _section(web.login("ana").client.get("/kpis").text, "win_rate_history")
    assert "Dispute win rate over time" in section
    rows = [
        [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1], re.S)
    ]
    assert rows == [[YESTERDAY.isoformat(), "50.0"], [TODAY.isoformat(), "75.0"]]
    assert section.split("<svg")[1].count("<rect") == 2


def test_no_history_yet_says_so(web: WebStore) -> None:
    page = web.login("ana").client.get("/kpis").text
    assert "Nothing yet." in _section(page, "ddo_history")
    assert "<svg" not in _section(page, "ddo_history")
