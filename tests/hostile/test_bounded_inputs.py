"""Bounded work on files and answers from outside: JSON nesting (Python's
decoder recursed into a RecursionError on 100,000 brackets: an import or a
job crashed), rows per CSV. Each is refused with its reason, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fleet.cli import app
from portal_adapters.web.http import json_object
from records.bounded_json import MAX_DEPTH, JsonTooDeep, check_depth, json_depth
from store import erp_import

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "data"


def _import(kind: str, path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["import", kind, str(path)])
    return result.exit_code, result.output + str(result.exception or "")


def test_a_json_file_of_100000_brackets_is_refused_not_a_crash(
    data_dir: Path, tmp_path: Path
) -> None:
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000 + "]" * 100_000)
    code, out = _import("shipments", f)
    assert code != 0
    assert "nested 100000 levels deep" in out
    assert "RecursionError" not in out


def test_a_deep_value_inside_one_record_is_refused_naming_the_limit(
    data_dir: Path, tmp_path: Path
) -> None:
    f = tmp_path / "s.json"
    f.write_text('[{"shipment_id": "S1", "pro_number": ' + "[" * 70 + "]" * 70 + "}]")
    code, out = _import("shipments", f)
    assert code != 0
    assert f"at most {MAX_DEPTH} are read" in out


def test_a_csv_past_the_row_limit_is_refused(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erp_import, "MAX_ROWS", 10)  # the real limit is 5,000,000 rows
    f = tmp_path / "s.csv"
    f.write_text("shipment_id,pro_number\n" + "".join(f"S{i},{i}\n" for i in range(11)))
    code, out = _import("shipments", f)
    assert code != 0
    assert "more than 10 rows" in out


def test_a_portal_answer_nested_too_deep_is_no_object() -> None:
    assert json_object(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
    assert json_object(b'{"a": [[1]]}') == {"a": [[1]]}


@given(
    st.recursive(
        st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_the_measured_depth_is_the_real_one(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    text = json.dumps(value)
    assert json_depth(text) == depth(value)
    if depth(value) > 3:
        with pytest.raises(JsonTooDeep):
            check_depth(text, 3)
