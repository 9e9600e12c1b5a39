"""Score profile (SPEC §5): groups of weighted indicators with targets — configuration, not code.

The default lives in ``config/score_profile.yaml``. Reading the file is the adapter's job; this module parses
and validates its text so an operator's reload either yields a complete, valid profile or a clear error.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.scoring.domain.rates import RATE_DEFINITIONS

PositiveWeight = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
Target = Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndicatorWeight(_Frozen):
    name: str = Field(description="Rate scored by this indicator, one of the nine SPEC §5 rates")
    weight: PositiveWeight = Field(description="Maximum points of the indicator (> 0)")
    target: Target = Field(
        description="Rate at which the indicator earns full points (0 < target ≤ 1); below it points are "
        "weight × rate / target"
    )

    @field_validator("name")
    @classmethod
    def _known_rate(cls, name: str) -> str:
        if name not in RATE_DEFINITIONS:
            known = ", ".join(RATE_DEFINITIONS)
            raise ValueError(f"chỉ số không tồn tại / unknown indicator {name!r}; known: {known}")
        return name


class IndicatorGroup(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Stable group key used in API responses")
    name_vi: str = Field(min_length=1, description="Vietnamese group name (nhóm chỉ số)")
    name_en: str = Field(min_length=1, description="English group name")
    indicators: tuple[IndicatorWeight, ...] = Field(min_length=1, description="Indicators of the group")

    @property
    def max_points(self) -> float:
        return sum(indicator.weight for indicator in self.indicators)


class ScoreProfile(_Frozen):
    name: str = Field(min_length=1, description="Profile name, shown with every score")
    description: str = Field(default="", description="What the profile measures and how it departs from 766")
    groups: tuple[IndicatorGroup, ...] = Field(min_length=1, description="Groups, in display order")
    min_dossiers: int = Field(
        default=20,
        ge=0,
        description="A unit with fewer dossiers in play in a month (progress_total) is not ranked for it "
        "(SPEC §5, unranked_reason too_few_dossiers), so a commune with two dossiers cannot top the city",
    )

    @model_validator(mode="after")
    def _unique(self) -> ScoreProfile:
        keys = [group.key for group in self.groups]
        if len(set(keys)) != len(keys):
            raise ValueError(f"nhóm chỉ số trùng khóa / duplicate group key in {keys}")
        names = [indicator.name for group in self.groups for indicator in group.indicators]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"chỉ số xuất hiện nhiều lần / indicator listed more than once: {duplicates}")
        return self

    @property
    def total_weight(self) -> float:
        return sum(group.max_points for group in self.groups)

    def indicator(self, name: str) -> IndicatorWeight | None:
        for group in self.groups:
            for indicator in group.indicators:
                if indicator.name == name:
                    return indicator
        return None


def profile_from_mapping(data: Any) -> ScoreProfile:
    """Validate an already-parsed profile (raises ``pydantic.ValidationError``, a ``ValueError``)."""
    return ScoreProfile.model_validate(data)


def parse_profile(text: str) -> ScoreProfile:
    """Parse and validate the YAML text of a profile."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"tệp cấu hình không phải YAML hợp lệ / profile is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("cấu hình phải là một ánh xạ YAML / profile must be a YAML mapping")
    return profile_from_mapping(data)
