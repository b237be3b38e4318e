"""Verdicts against the generated scenarios' truth, which the matcher never sees."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fixtures.generator import generate
from fixtures.scenario import Scenario
from matching.config import load_config
from matching.service import compute
from store.db import make_engine, session_factory
from store.migrate import upgrade
from tests.integration.matching.accuracy import compare
from tests.integration.matching.loader import load_scenario

REPO = Path(__file__).resolve().parents[3]


def _verdicts(tmp_path: Path, name: str, sc: Scenario, evidence: str):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / name}.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = session_factory(engine)
        load_scenario(factory, sc, evidence=evidence)  # type: ignore[arg-type]
        with factory() as s:
            return compute(s, sc.as_of, load_config())
    finally:
        engine.dispose()


@pytest.mark.parametrize("seed", [11, 12])
def test_small_scenarios_agree_with_the_truth(tmp_path: Path, seed: int) -> None:
    sc = generate(seed, "small")
    a = compare(sc, _verdicts(tmp_path, "s", sc, "complete"))
    assert a.verdict_rate >= 0.98, a.wrong
    assert a.amount_rate >= 0.98, a.wrong
    # Every decided verdict is right; the rest name what is missing.
    assert a.decided_agree == a.decided, a.wrong


def test_on_the_worlds_day_missing_evidence_is_named_never_guessed(tmp_path: Path) -> None:
    sc = generate(11, "small")
    verdicts = _verdicts(tmp_path, "as_of", sc, "as_of")
    a = compare(sc, verdicts)
    assert a.decided_agree == a.decided, a.wrong
    review = [v for v in verdicts if v.validity == "needs_review"]
    assert review, "some PODs and backups are not there yet on the world's day"
    assert all(v.missing and v.missing[0]["why"] in v.reasons for v in review)


def test_removing_the_truth_changes_no_verdict(tmp_path: Path) -> None:
    sc = generate(12, "small")
    blind = Scenario.model_validate({**sc.model_dump(), "truth": {"deductions": {}}})
    assert not blind.truth.deductions
    with_truth = [v.as_dict() for v in _verdicts(tmp_path, "a", sc, "complete")]
    without = [v.as_dict() for v in _verdicts(tmp_path, "b", blind, "complete")]
    assert with_truth == without


def test_matching_never_imports_the_fixture_world() -> None:
    for path in (REPO / "matching").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] in ("fixtures", "tests") for n in names), path


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5])
def test_medium_scenario_meets_the_accuracy_target(tmp_path: Path, seed: int) -> None:
    sc = generate(seed, "medium")
    a = compare(sc, _verdicts(tmp_path, "m", sc, "complete"))
    print(f"\nseed {seed}: verdicts {a.verdict_rate:.4f}, amounts {a.amount_rate:.4f}")
    print(a.table())
    assert a.verdict_rate >= 0.98, a.wrong[:20]
    assert a.amount_rate >= 0.99, a.wrong[:20]
