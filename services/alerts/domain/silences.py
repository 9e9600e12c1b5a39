"""Silences: mute notifications of matching alerts for a while, with who and why (like Alertmanager's).

Matchers work on an alert's labels (alertname, unit_id, severity, level and the rule's own labels) with the
Alertmanager operators =, !=, =~ and !~ (regexes are anchored, a missing label reads as ""). One extra matcher
name, `subtree`, selects a unit and everything below it: `subtree = quan-ba-dinh` mutes every alert of Ba Đình
and its wards, which is what an operator wants during a local system migration. `rule_id` is an alias of
`alertname`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SUBTREE = "subtree"


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", description="Label name or `subtree`"
    )
    op: Literal["=", "!=", "=~", "!~"] = Field("=", description="Alertmanager matcher operator")
    value: str = Field(max_length=256, description="Value, or an anchored regular expression for =~ and !~")

    @model_validator(mode="after")
    def _check(self) -> Matcher:
        if self.op in ("=~", "!~"):
            if self.name == SUBTREE:
                raise ValueError("the subtree matcher takes = or != only")
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"invalid regular expression: {error}") from None
        return self

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(self.value)

    def matches(self, labels: Mapping[str, str], subtree_ids: frozenset[str]) -> bool:
        if self.name == SUBTREE:
            inside = self.value in subtree_ids
            return inside if self.op == "=" else not inside
        # `rule_id` reads the alertname label: operators think in rule ids, and they are the same thing here.
        actual = labels.get("alertname" if self.name == "rule_id" else self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, description="Silence identifier")
    matchers: list[Matcher] = Field(min_length=1, description="All must match for the silence to apply")
    starts_at: AwareDatetime = Field(description="Start of the silence (RFC 3339)")
    ends_at: AwareDatetime = Field(description="Expiry of the silence (RFC 3339), after starts_at")
    comment: str = Field(min_length=1, max_length=1000, description="Why (mandatory, shown to colleagues)")
    author: str = Field(min_length=1, max_length=200, description="Who created it")

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be later than starts_at")
        return self

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str], subtree_ids: frozenset[str]) -> bool:
        return all(matcher.matches(labels, subtree_ids) for matcher in self.matchers)


def silencing(
    silences: Iterable[Silence], labels: Mapping[str, str], subtree_ids: frozenset[str], now: datetime
) -> list[str]:
    """Ids of the silences that mute an alert with these labels at `now` (sorted, for stable records)."""
    return sorted(s.id for s in silences if s.is_active(now) and s.matches(labels, subtree_ids))
