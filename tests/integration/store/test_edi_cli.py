"""``fleet import adjustments`` and ``fleet import remittances`` through the
installed ``fleet`` entry point, as an operator runs them: the per-file report
(transactions read, deductions created or merged, the file's own total beside
the sum read) and refusals that say where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.store.conftest import Db
from tests.unit.x12 import samples

FLEET = str(Path(sys.executable).with_name("fleet"))


def _fleet(db: Db, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLEET_DATABASE_URL": db.url,
        "FLEET_DATA_DIR": str(tmp_path / "data"),
        "FLEET_CONFIG": str(tmp_path / "absent.toml"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [FLEET, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _write(tmp_path: Path, name: str, text: str) -> str:
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def test_import_adjustments_reports_what_it_read_did_and_checked(db: Db, tmp_path: Path) -> None:
    f = _write(tmp_path, "megamart.812", samples.MEGAMART_812)
    r = _fleet(db, tmp_path, "import", "adjustments", f)
    assert r.returncode == 0, r.stderr
    assert (
        "megamart.812: 2 transactions in 2 interchanges; deductions: 2 created, 0 merged with "
        "the portal's, 0 updated, 0 unchanged (megamart 2)"
    ) in r.stderr
    assert (
        "totals checked: file says 356.92 (BCD04) | fleet read 356.92 (CDD lines; 1 without "
        "lines count their BCD04): equal"
    ) in r.stderr
    assert "ISA13 control number 000004321 is used by 2 interchanges" in r.stderr
    r = _fleet(db, tmp_path, "import", "adjustments", f)
    assert "0 created, 0 merged with the portal's, 0 updated, 2 unchanged" in r.stderr


def test_import_adjustments_refuses_a_file_naming_the_place(db: Db, tmp_path: Path) -> None:
    bad = samples.FRESHCO_812.replace("*17252*D*", "*17253*D*")
    r = _fleet(db, tmp_path, "import", "adjustments", _write(tmp_path, "fc.812", bad))
    assert r.returncode == 1
    assert "refused:" in r.stderr
    assert (
        "interchange 000000311 (#1), group 311, transaction 0001, segment 4 (BCD, line 4), "
        "element BCD04: BCD04 172.53 is not the sum of its 1 CDD lines (172.52"
    ) in r.stderr
    assert "Traceback" not in r.stderr


def test_import_adjustments_for_a_retailer_the_file_does_not_name(db: Db, tmp_path: Path) -> None:
    text = samples.MEGAMART_812.replace("MEGAMART STORES INC*UL*0614141000005", "VM INC*UL*1")
    text = text.replace("925485MM00", "925485VM00")
    f = _write(tmp_path, "vm.812", text)
    r = _fleet(db, tmp_path, "import", "adjustments", f)
    assert "(vm 2)" in r.stderr
    assert "has no file in records/data/edi" in r.stderr
    r = _fleet(db, tmp_path, "import", "adjustments", "--retailer", "megamart", f)
    assert r.returncode == 0, r.stderr
    assert "(megamart 2)" in r.stderr
    assert "no file in records/data/edi" not in r.stderr


def test_import_remittances_820_shows_the_totals_side_by_side(db: Db, tmp_path: Path) -> None:
    r = _fleet(
        db, tmp_path, "import", "remittances", _write(tmp_path, "m.820", samples.MEGAMART_820)
    )
    assert r.returncode == 0, r.stderr
    assert "m.820: remittances: 1 transactions, 1 records (1 new, 0 changed, 0 unchanged)" in (
        r.stderr
    )
    assert (
        "totals checked: file says 1,004.56 (BPR02) | fleet read 1,004.56 (RMR04 - loop "
        "adjustments): balanced"
    ) in r.stderr
    off = samples.SHOPRIGHT_820.replace("BPR*C*850.00", "BPR*C*800.00")
    r = _fleet(db, tmp_path, "import", "remittances", _write(tmp_path, "s.820", off))
    assert r.returncode == 0, r.stderr
    assert "flagged remittance SR-CHK-99: BPR02 800.00, read 850.00" in r.stderr
