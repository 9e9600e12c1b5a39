"""The life of one dossier: its SPEC §2 events with their occurred_at, planned at the moment of receipt.

Planning the whole life at receipt keeps the generator a single pass: the stream only has to hold the dossiers
still in flight and release their events in delivery order.
"""

from __future__ import annotations

import random
from typing import Any

from simulator.catalog import UnitProfile
from simulator.params import SimParams
from simulator.worktime import DAY, HOUR, OFFICE_OPEN, Rfc3339, WorkCalendar, day_start, local_day

Event = dict[str, Any]
Planned = tuple[int, Event]  # (occurred_at epoch seconds, event)

_SNAP_JITTER = 5_400  # officers start work within 1.5 h of opening


class DossierPlanner:
    """Plans dossiers; all randomness comes from the one `rng`, so a seed fixes every detail."""

    def __init__(
        self, rng: random.Random, calendar: WorkCalendar, fmt: Rfc3339, params: SimParams, office_hours: bool
    ) -> None:
        self._rng = rng
        self._cal = calendar
        self._fmt = fmt
        self._p = params
        self._office_hours = office_hours

    # -- time helpers -------------------------------------------------------------------------------------------
    def _snap(self, ts: int) -> int:
        if not self._office_hours:
            return ts
        return self._cal.snap_to_office(ts, int(self._rng.random() * _SNAP_JITTER))

    def _between(self, a: int, b: int, skew: float = 1.0) -> int:
        """An office-hour moment in (a, b) (b is a due time: the close of a working day), early-skewed if skew>1."""
        candidate = a + 1 + int((b - a - 2) * self._rng.random() ** skew)
        snapped = self._snap(candidate)
        # A due time moved by a pause may fall outside office hours: never let snapping push past it.
        return snapped if snapped < b else candidate

    def _working_days_after(self, ts: int, n: int) -> int:
        day = self._cal.add_working_days(local_day(ts), n)
        return day_start(day) + OFFICE_OPEN + int(self._rng.random() * 8 * HOUR)

    def _event(self, dossier_id: str, suffix: str, etype: str, unit_id: str, ts: int, procedure_id: str) -> Event:
        return {
            "event_id": f"{dossier_id}:{suffix}",
            "dossier_id": dossier_id,
            "unit_id": unit_id,
            "type": etype,
            "occurred_at": self._fmt.local(ts),
            "procedure_id": procedure_id,
        }

    # -- the dossier --------------------------------------------------------------------------------------------
    def plan(self, dossier_id: str, unit: UnitProfile, channel: str, received_at: int) -> list[Planned]:
        rnd = self._rng.random
        p = self._p
        proc = unit.pick_procedure(rnd())
        pid, uid, t0 = proc.procedure_id, unit.unit_id, received_at
        due = self._cal.due_at(t0, proc.working_days)
        online = channel == "online"
        received = self._event(dossier_id, "rcv", "received", uid, t0, pid)
        received.update(
            channel=channel,
            due_at=self._fmt.local(due),
            digitized=rnd() < (p.digitized_online if online else p.digitized_counter),
            reused_data=rnd() < p.reused_share,
        )
        out: list[Planned] = [(t0, received)]

        pay_online = rnd() < (p.online_payment_if_online if online else p.online_payment_if_counter)
        pay_at_receipt = proc.fee > 0 and rnd() < 0.7
        if pay_at_receipt:
            out.append(self._payment(dossier_id, "pay1", uid, t0 + 60 + int(rnd() * 1200), pid, proc.fee, pay_online))

        cursor = t0  # processing resumes from here after a hold
        if rnd() < p.supplement_share:
            t_req = self._between(cursor, due)
            out.append((t_req, self._event(dossier_id, "sreq", "supplement_requested", uid, t_req, pid)))
            if rnd() >= p.supplement_answered:
                if rnd() < p.unanswered_withdrawn:
                    t_w = self._snap(t_req + 15 * DAY + int(rnd() * 30 * DAY))
                    out.append((t_w, self._event(dossier_id, "wdr", "withdrawn", uid, t_w, pid)))
                return out  # otherwise on hold for good: open but never overdue
            t_back = self._snap(t_req + HOUR + int(self._rng.expovariate(1 / (3 * DAY))))
            due = self._cal.due_at(t_back, proc.working_days)  # processing time restarts on a complete dossier
            back = self._event(dossier_id, "srcv", "supplement_received", uid, t_back, pid)
            back["due_at"] = self._fmt.local(due)
            out.append((t_back, back))
            cursor = t_back
        if rnd() < p.pause_share:
            t_pause = self._between(cursor, due)
            t_resume = self._snap(t_pause + DAY + int(rnd() * 4 * DAY))
            due += t_resume - t_pause  # the clock stops while paused
            resumed = self._event(dossier_id, "resume", "resumed", uid, t_resume, pid)
            resumed["due_at"] = self._fmt.local(due)
            out.append((t_pause, self._event(dossier_id, "pause", "paused", uid, t_pause, pid)))
            out.append((t_resume, resumed))
            cursor = t_resume
        if rnd() < p.withdraw_share:
            t_w = self._between(cursor, due)
            out.append((t_w, self._event(dossier_id, "wdr", "withdrawn", uid, t_w, pid)))
            return out

        if rnd() < unit.stuck_share:
            if rnd() < p.stuck_never_resolved:
                return out  # stuck: open and overdue until someone closes it
            t_res = self._snap(due + DAY + int(self._rng.expovariate(1 / (p.stuck_mean_extra_days * DAY))))
            late = True
        elif rnd() < unit.late_share:
            t_res = self._working_days_after(due, 1 + int(rnd() * 10))
            late = True
        else:
            t_res = self._between(cursor, due, skew=1.4)  # most dossiers are settled early ("trước hạn")
            late = False
        self._resolution(out, dossier_id, unit, pid, t_res, online, late)
        if proc.fee > 0 and not pay_at_receipt:
            t_pay = t_res + 600 + int(rnd() * 2 * DAY)
            out.append(self._payment(dossier_id, "pay1", uid, t_pay, pid, proc.fee, pay_online))
        if proc.fee > 0 and rnd() < p.second_payment_share:
            t_pay = t_res + 900 + int(rnd() * DAY)
            out.append(self._payment(dossier_id, "pay2", uid, t_pay, pid, proc.fee // 10, pay_online))
        return out

    def _resolution(
        self, out: list[Planned], dossier_id: str, unit: UnitProfile, pid: str, t_res: int, online: bool, late: bool
    ) -> None:
        rnd = self._rng.random
        p = self._p
        uid = unit.unit_id
        e_result = rnd() < min(unit.e_result_share * (1.08 if online else 0.9), 1.0)
        resolved = self._event(dossier_id, "res", "resolved", uid, t_res, pid)
        resolved.update(outcome="refused" if rnd() < p.refused_share else "approved", e_result=e_result)
        out.append((t_res, resolved))
        if rnd() >= p.returned_share:
            return
        t_ret = t_res + 60 + int(rnd() * HOUR) if e_result else self._snap(t_res + 600 + int(rnd() * 3 * DAY))
        out.append((t_ret, self._event(dossier_id, "ret", "returned", uid, t_ret, pid)))
        if rnd() < p.rating_share:
            t_rate = t_ret + 300 + int(rnd() * 2 * DAY)  # citizens rate at any hour
            r = rnd()
            bad = p.rating_dissatisfied_if_late if late else p.rating_dissatisfied * unit.dissatisfied_factor
            level = (
                "dissatisfied"
                if r < bad
                else "very_satisfied"
                if r < bad + (1 - bad) * p.rating_very_satisfied
                else "satisfied"
            )
            rating = self._event(dossier_id, "rate", "rating", uid, t_rate, pid)
            rating["level"] = level
            out.append((t_rate, rating))

    def _payment(self, dossier_id: str, suffix: str, uid: str, ts: int, pid: str, amount: int, online: bool) -> Planned:
        event = self._event(dossier_id, suffix, "payment", uid, ts, pid)
        event.update(method="online" if online else "counter", amount=amount)
        return ts, event

    # -- the stuck backlog ----------------------------------------------------------------------------------------
    def plan_backlog(self, dossier_id: str, unit: UnitProfile, received_at: int, start: int) -> list[Planned]:
        """A dossier received long before `start`, already overdue, cleared (late) at a slow monthly rate."""
        rnd = self._rng.random
        proc = unit.pick_procedure(rnd())
        pid, uid = proc.procedure_id, unit.unit_id
        due = self._cal.due_at(received_at, proc.working_days)
        channel = "online" if rnd() < unit.online_probability else "direct"
        received = self._event(dossier_id, "rcv", "received", uid, received_at, pid)
        received.update(
            channel=channel,
            due_at=self._fmt.local(due),
            digitized=rnd() < self._p.digitized_counter,
            reused_data=rnd() < self._p.reused_share,
        )
        out: list[Planned] = [(received_at, received)]
        monthly = self._p.backlog_monthly_clearance
        if monthly > 0:
            t_res = self._snap(max(start, due) + 1 + int(self._rng.expovariate(monthly / (30 * DAY))))
            self._resolution(out, dossier_id, unit, pid, t_res, channel == "online", late=True)
        return out
