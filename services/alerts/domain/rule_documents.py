"""Rules documents: one rule or a whole YAML document turned into the models of `rules`, with every problem named by
its path (`rules[3].threshold: ...`), so an operator fixes a file in one pass.

The adapters read files and the database; this module only turns text and mappings into rules (no I/O).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from services.alerts.domain.rules import RULE_KINDS, Rule, RuleFieldErrors, RuleSet


@dataclass(frozen=True)
class RuleProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class RuleFileError(ValueError):
    """Every problem found in a rules document, each with the path of the offending value."""

    def __init__(self, source: str, problems: list[RuleProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in alert rules\n{lines}")


def _join(path: str, loc: tuple[Any, ...]) -> str:
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _problems_from(error: ValidationError, path: str) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    for detail in error.errors():
        original = (detail.get("ctx") or {}).get("error")
        if isinstance(original, RuleFieldErrors):
            problems.extend(RuleProblem(_join(path, (field,)), message) for field, message in original.problems)
            continue
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(RuleProblem(_join(path, tuple(detail["loc"])), message))
    return problems


def parse_rule(data: object, path: str = "rule") -> Rule:
    """Validate one rule (from YAML or the admin API); raise RuleFileError with paths under `path`."""
    if not isinstance(data, Mapping):
        raise RuleFileError(path, [RuleProblem(path, "a rule is a mapping of fields")])
    kind = data.get("kind", "threshold")
    model = RULE_KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(RULE_KINDS)
        raise RuleFileError(path, [RuleProblem(f"{path}.kind", f"unknown kind {kind!r}; use one of {known}")])
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        raise RuleFileError(path, _problems_from(error, path)) from None


def load_rules(text: str, source: str = "<alert rules>") -> RuleSet:
    """Parse a rules document: `{version: 1, rules: [...]}`. All problems are reported at once.

    The adapter reads the file (`load_rules(path.read_text("utf-8"), source=str(path))`); the domain does no I/O.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise RuleFileError(source, [RuleProblem(where, f"not valid YAML: {error}")]) from None
    if not isinstance(document, Mapping):
        raise RuleFileError(source, [RuleProblem("<root>", "expected a mapping with a `rules` list")])
    problems: list[RuleProblem] = []
    unknown = sorted(set(document) - {"version", "rules"})
    if unknown:
        problems.append(RuleProblem("<root>", f"unknown key(s): {', '.join(map(str, unknown))}"))
    if document.get("version", 1) != 1:
        problems.append(RuleProblem("version", "only version 1 is understood"))
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list):
        problems.append(RuleProblem("rules", "expected a list of rules"))
        raw_rules = []
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        path = f"rules[{index}]"
        try:
            rule = parse_rule(raw, path)
        except RuleFileError as error:
            problems.extend(error.problems)
            continue
        if rule.id in seen:
            problems.append(RuleProblem(f"{path}.id", f"duplicate id {rule.id!r} (first at rules[{seen[rule.id]}])"))
            continue
        seen[rule.id] = index
        rules.append(rule)
    if problems:
        raise RuleFileError(source, problems)
    return RuleSet(tuple(rules))


def rule_definitions(text: str, wanted: Collection[str]) -> dict[str, Rule]:
    """The rules with these ids in a STORED rules document, each validated on its own. A document stored under an
    older version of the service may no longer pass as a whole while the one rule needed still does; whatever
    does not parse is skipped (the caller looks further back, or does without)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    raw_rules = document.get("rules") if isinstance(document, Mapping) else None
    found: dict[str, Rule] = {}
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule_id = raw.get("id") if isinstance(raw, Mapping) else None
        if rule_id not in wanted or rule_id in found:
            continue
        try:
            found[rule_id] = parse_rule(raw, f"rules[{index}]")
        except RuleFileError:
            continue
    return found
