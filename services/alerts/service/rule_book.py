"""The rule set every evaluation reads, following the newest set any alerts process activated.

`refresh` compares the newest stored rule_set_id with the one held (one index lookup) and loads the newer set when
another process activated one. Evaluations call it after taking the evaluation lock, which activations take too,
so no process evaluates with a set older than the newest committed one.
"""

from __future__ import annotations

import logging

from services.alerts.domain.rules import RuleSet
from services.alerts.service.ports import ActiveRules, RuleSetReader

log = logging.getLogger(__name__)


class RuleBook:
    """Swapped as a whole, so one evaluation never mixes two sets."""

    def __init__(self, active: ActiveRules) -> None:
        self.active = active

    @property
    def rules(self) -> RuleSet:
        return self.active.rules

    def replace(self, active: ActiveRules) -> None:
        """Take `active` unless a newer set is already held (ids only grow: newest wins in every process)."""
        if active.rule_set_id > self.active.rule_set_id:
            self.active = active

    async def refresh(self, source: RuleSetReader) -> bool:
        """Switch to the newest stored set if it is newer than the one held; True when it switched.
        A stored set that no longer loads raises RuleFileError: better to stop evaluating (the step is retried
        and logged) than to go on with a set that is no longer in force."""
        newer = await source.newer_rule_set(self.active.rule_set_id)
        if newer is None:
            return False
        self.replace(newer)
        log.info("switched to rule set %d (%s, %d rules)", newer.rule_set_id, newer.source, len(newer.rules.rules))
        return True
