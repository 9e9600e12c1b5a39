from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from services.alerts.domain.durations import format_duration, parse_duration
from services.alerts.domain.rule_documents import RuleFileError, load_rules, parse_rule
from services.alerts.domain.rules import NearDueRule, Scope, ThresholdRule
from shared.indicators import RATE_NAMES

DEFAULT_RULES = Path(__file__).resolve().parents[3] / "config" / "alert_rules.yaml"

GOOD_RULE = """
  - id: pay-low
    name: Thanh toán trực tuyến thấp
    target: online_payment_rate
    comparison: "<"
    threshold: 0.55
    clear_threshold: 0.57
    min_denominator: 20
    for: 2h
    summary: "$unit_name: $value"
    description: "Tháng $period"
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rules(text)
    return [str(problem) for problem in caught.value.problems]


def rules_doc(*rule_texts: str) -> str:
    return "version: 1\nrules:\n" + "".join(rule_texts)


def with_fields(**changes: str) -> str:
    lines = GOOD_RULE.rstrip("\n").split("\n")
    out: list[str] = []
    for line in lines:
        key = line.strip().removeprefix("- ").split(":")[0]
        if key in changes:
            prefix = line[: len(line) - len(line.lstrip())] + ("- " if line.strip().startswith("- ") else "")
            if changes[key] != "<drop>":
                out.append(f"{prefix}{key}: {changes.pop(key)}")
            else:
                changes.pop(key)
            continue
        out.append(line)
    out.extend(f"    {key}: {value}" for key, value in changes.items())
    return "\n".join(out) + "\n"


def test_good_rule_loads_with_parsed_fields() -> None:
    rule = load_rules(rules_doc(GOOD_RULE)).rules[0]
    assert isinstance(rule, ThresholdRule)
    assert rule.for_ == timedelta(hours=2)
    assert rule.repeat_interval == timedelta(hours=24)
    assert rule.denominator_counter == "payments"
    assert rule.effective_clear_threshold == 0.57
    assert rule.model_dump(mode="json", by_alias=True)["for"] == "2h"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"clear_threshold": "0.50"}, "rules[0].clear_threshold: with '<' it must be ≥ threshold (0.55)"),
        ({"threshold": "55"}, "rules[0].threshold: online_payment_rate is a fraction: write 0.55 for 55 %"),
        ({"summary": '"$unit_nam: $value"'}, "rules[0].summary: unknown placeholder(s) $unit_nam"),
        ({"description": '"${period"'}, "rules[0].description: invalid placeholder syntax"),
        ({"target": "online"}, "rules[0].target: Input should be"),
        ({"comparison": '"=="'}, "rules[0].comparison: Input should be"),
        ({"for": "2 hours"}, "rules[0].for: '2 hours' is not a duration"),
        ({"min_denominator": "-1"}, "rules[0].min_denominator: Input should be greater than or equal to 0"),
        ({"colour": "red"}, "rules[0].colour: Extra inputs are not permitted"),
        ({"severity": "fatal"}, "rules[0].severity: Input should be"),
        ({"id": "Bad Id"}, "rules[0].id: String should match pattern"),
        ({"name": "<drop>"}, "rules[0].name: Field required"),
        ({"growth_window": "24h"}, "rules[0].growth_window: only live counters"),
        ({"labels": "{unit_id: x}"}, "rules[0].labels: unit_id are set by the system"),
        ({"repeat_interval": "1m"}, "rules[0].repeat_interval: must be at least 5m"),
        ({"scope": "{levels: [ward]}"}, "rules[0].scope.levels[0]: Input should be"),
        ({"target": "score", "threshold": "40", "clear_threshold": "45"}, "rules[0].denominator: score has no"),
    ],
)
def test_validation_errors_name_the_path(changes: dict[str, str], expected: str) -> None:
    problems = problems_of(rules_doc(with_fields(**changes)))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_clear_threshold_side_for_high_is_bad_comparisons() -> None:
    problems = problems_of(
        rules_doc(
            with_fields(
                target="overdue_open", comparison='">"', threshold="10", clear_threshold="12", min_denominator="<drop>"
            )
        )
    )
    assert problems == ["rules[0].clear_threshold: with '>' it must be ≤ threshold (10.0)"]


def test_all_rules_are_checked_and_duplicates_reported() -> None:
    text = rules_doc(GOOD_RULE, GOOD_RULE, with_fields(id="other", threshold="2"), "  - 42\n")
    problems = problems_of(text)
    assert "rules[1].id: duplicate id 'pay-low' (first at rules[0])" in problems
    assert any(p.startswith("rules[2].threshold:") for p in problems)
    assert "rules[3]: a rule is a mapping of fields" in problems


def test_document_level_errors() -> None:
    assert problems_of("rules: [\n")[0].startswith("line ")
    assert problems_of("- a\n- b\n") == ["<root>: expected a mapping with a `rules` list"]
    assert problems_of("version: 2\nrules: []\nextra: 1\n") == [
        "<root>: unknown key(s): extra",
        "version: only version 1 is understood",
    ]
    assert problems_of("rules: {}\n") == ["rules: expected a list of rules"]
    assert problems_of(rules_doc("  - {id: x, kind: magic}\n")) == [
        "rules[0].kind: unknown kind 'magic'; use one of threshold, near_due, forecast"
    ]


def test_error_message_lists_every_problem_with_its_source() -> None:
    with pytest.raises(RuleFileError) as caught:
        load_rules(rules_doc(with_fields(threshold="7", clear_threshold="0.1")), source="rules.yaml")
    message = str(caught.value)
    assert message.startswith("rules.yaml: 2 problem(s) in alert rules")
    assert "rules[0].threshold" in message and "rules[0].clear_threshold" in message


def test_near_due_rule_defaults_and_placeholders() -> None:
    rule = parse_rule(
        {"id": "nd", "kind": "near_due", "name": "Sắp hạn", "summary": "$count hồ sơ", "description": "$items"}
    )
    assert isinstance(rule, NearDueRule)
    assert rule.horizon == timedelta(hours=24)
    with pytest.raises(RuleFileError) as caught:
        parse_rule(
            {"id": "nd", "kind": "near_due", "name": "x", "summary": "$value", "description": "d", "horizon": 0},
            "rules[5]",
        )
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith("rules[5].summary: unknown placeholder(s) $value") for m in messages)
    assert "rules[5].horizon: must be longer than 0s" in messages


def test_scope_levels_and_subtrees_both_apply() -> None:
    scope = Scope(levels=["commune"], subtrees=["huyen-ba-vi"])
    assert scope.covers("xa-tan-linh", "commune", ["huyen-ba-vi", "ha-noi"])
    assert not scope.covers("xa-khac", "commune", ["huyen-dong-anh", "ha-noi"])
    assert not scope.covers("huyen-ba-vi", "district", ["ha-noi"])
    assert Scope().covers("anything", "city", [])
    assert Scope(subtrees=["huyen-ba-vi"]).covers("huyen-ba-vi", "district", ["ha-noi"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("300", 300), (45, 45)],
)
def test_durations(text: object, seconds: int) -> None:
    parsed = parse_duration(text)
    assert parsed == timedelta(seconds=seconds)
    assert parse_duration(format_duration(parsed)) == parsed


@pytest.mark.parametrize("bad", ["", "1.5h", "h", "-5m", True, None, "1w"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_default_rules_file_loads_and_encodes_hanoi_targets() -> None:
    rules = load_rules(DEFAULT_RULES.read_text(encoding="utf-8"), source=str(DEFAULT_RULES))
    by_id = {rule.id: rule for rule in rules.rules}
    expected_thresholds = {
        "online-payment-low": ("online_payment_rate", 0.55),
        "online-dossiers-low": ("online_rate", 0.60),
        "satisfaction-low": ("satisfaction_rate", 0.90),
    }
    for rule_id, (target, threshold) in expected_thresholds.items():
        rule = by_id[rule_id]
        assert isinstance(rule, ThresholdRule)
        assert (rule.target, rule.comparison, rule.threshold) == (target, "<", threshold)
    for rule in rules.rules:
        assert rule.name and rule.summary_en and rule.description_en
        assert "city" not in rule.scope.levels
        if isinstance(rule, ThresholdRule) and rule.target in RATE_NAMES:
            assert rule.min_denominator >= 20, rule.id
            assert rule.effective_clear_threshold > rule.threshold, rule.id
    assert isinstance(by_id["near-due-24h"], NearDueRule)
    assert by_id["near-due-24h"].horizon == timedelta(hours=24)
    bottom = by_id["bottom-five"]
    assert isinstance(bottom, ThresholdRule) and bottom.target == "rank_from_bottom" and bottom.threshold == 5
    growth = by_id["overdue-growing"]
    assert isinstance(growth, ThresholdRule) and growth.growth_window == timedelta(hours=24)
    drop = by_id["score-drop"]
    assert isinstance(drop, ThresholdRule) and (drop.target, drop.threshold) == ("score_change", -5)
