from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.scenario_io import ScenarioError, dump_scenario, load_scenario, parse_scenario

EXAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "examples" / "hand_written.yaml"


def test_hand_written_example_loads_with_hostile_text_intact() -> None:
    sc = load_scenario(EXAMPLE)
    memos = [d.memo for d in sc.deductions]
    assert any("<script>" in m for m in memos)
    assert any("🚚" in m for m in memos)
    names = [s.filename for d in sc.deductions for s in d.documents]
    assert "../../etc/passwd.pdf" in names


def test_json_round_trip_is_byte_stable(tmp_path: Path) -> None:
    sc = load_scenario(EXAMPLE)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    dump_scenario(sc, a)
    dump_scenario(load_scenario(a), b)
    assert a.read_bytes() == b.read_bytes()


def test_bad_field_names_the_field_and_its_line() -> None:
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    idx = next(i for i, line in enumerate(lines) if "amount: '137.50'" in line or "amount:" in line)
    lines[idx] = lines[idx].split("amount:")[0] + "amount: twelve dollars"
    with pytest.raises(ScenarioError) as err:
        parse_scenario("\n".join(lines), source="bad.yaml")
    msg = str(err.value)
    assert f"bad.yaml: line {idx + 1}:" in msg
    assert "deductions.0.amount" in msg


def test_json_syntax_error_names_the_line() -> None:
    with pytest.raises(ScenarioError, match=r"line 3: invalid JSON"):
        parse_scenario('{\n "as_of": "2026-11-01",\n "supplier": }\n')


def test_unknown_field_is_refused_not_ignored() -> None:
    text = EXAMPLE.read_text().replace("size: custom", "size: custom\nsurprise: 1", 1)
    with pytest.raises(ScenarioError, match=r"line 4: surprise: Extra inputs"):
        parse_scenario(text)


def test_cross_references_are_checked() -> None:
    text = EXAMPLE.read_text().replace("account: acme-ar", "account: nobody", 1)
    with pytest.raises(ScenarioError, match="has no login on megamart"):
        parse_scenario(text)


def test_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        parse_scenario("- 1\n- 2\n")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")
