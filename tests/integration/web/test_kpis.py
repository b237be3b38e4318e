"""The KPI page shows the figures of ``fleet kpis --json`` (the same function):
every headline figure and every table row, a chart beside each table, and
each table as CSV; ``fleet kpis`` prints the same tables, not cut at 80
columns."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from matching.reports import KPI_HEADLINE, kpi_tables
from records.schemas import DisputeRecord
from store.db import transaction
from store.repositories import deductions, disputes
from tests.integration.store import factories
from tests.integration.web.conftest import TODAY, WebStore


def _fleet(data_dir: Path, *args: str) -> str:
    env = {
        **os.environ,
        "FLEET_DATA_DIR": str(data_dir),
        "FLEET_CONFIG": str(data_dir / "absent.toml"),
        "FLEET_BUSINESS_DAY": TODAY.isoformat(),
        "COLUMNS": "80",
    }
    env.pop("FLEET_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "fleet.cli", "kpis", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _cells(page: str, name: str) -> list[list[str]]:
    section = page.split(f'id="kpi-{name}"')[1].split("</section>")[0]
    body = section.split("<tbody>")[1].split("</tbody>")[0]
    return [
        [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_kpi_page_shows_what_fleet_kpis_says(web: WebStore, tmp_path: Path) -> None:
    with transaction(web.db) as s:
        for ext, amount, portal, when in (
            ("FC-1", "75.00", "freshco", TODAY.replace(day=1)),
            ("SR-9", "1200.00", "shopright", TODAY.replace(month=1)),
            ("MM-OLD", "310.40", "megamart", TODAY.replace(year=TODAY.year - 1)),
        ):
            deductions.upsert(
                s,
                factories.deduction(
                    ext, portal=portal, amount=Decimal(amount), deduction_date=when
                ),
            )
        disputes.upsert(
            s,
            DisputeRecord(
                portal="megamart", deduction_external_id="CB-2002", idempotency_key="kpi-test-1",
                dispute_number="D-1", status="partially_approved", amount=Decimal("4000.00"),
                recovered_amount=Decimal("1500.00"),
            ),
        )  # fmt: skip
    figures = json.loads(_fleet(tmp_path, "--json"))
    assert figures["amount_recovered"] == "1500.00"

    ana = web.login("ana")
    page = ana.client.get("/kpis")
    assert page.status_code == 200
    assert "<script" not in page.text.split("</head>")[1], "charts are drawn without script"
    shown = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page.text)
    }
    for key, label in KPI_HEADLINE:
        value = figures[key]
        assert shown[label] == ("-" if value is None else str(value)), label
    tables = kpi_tables(figures)
    assert [t.name for t in tables if t.rows] == [
        "aging", "category", "portal", "reason", "deadline", "recovered_portal",
        "recovered_category",
    ]  # fmt: skip
    assert sum(amount for _, amount in tables[4].rows) <= Decimal(figures["open_amount"])
    for table in tables:
        expected = [[str(v) for v in row] for row in table.rows] or [["Nothing yet."]]
        assert _cells(page.text, table.name) == expected, table.name
        assert page.text.count(f'id="kpi-{table.name}"') == 1
        download = ana.client.get(f"/kpis/{table.name}.csv")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        assert "attachment" in download.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(download.text)))
        assert rows[0] == list(table.columns)
        assert rows[1:] == [[str(v) for v in row] for row in table.rows]
    section = page.text.split('id="kpi-portal"')[1].split("</section>")[0]
    assert section.count("<rect") == len(tables[2].rows), "a bar per row"
    assert ana.client.get("/kpis/nothing.csv").status_code == 404
    assert web.client().get("/kpis", follow_redirects=False).status_code == 303  # log in first

    printed = _fleet(tmp_path)
    for table in tables:
        assert table.title in printed
        for row in table.rows:
            assert str(row[-1]) in printed
    assert "…" not in printed, "nothing cut to fit 80 columns"
