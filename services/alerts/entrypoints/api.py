"""HTTP routes: alerts and their history, acknowledgements, silences, rules, metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.alerts.adapters import queries
from services.alerts.bootstrap import Container
from services.alerts.domain.lifecycle import AcknowledgementError
from services.alerts.domain.rule_documents import RuleFileError
from services.alerts.domain.rules import RuleSet
from services.alerts.domain.state import AlertState
from services.alerts.entrypoints.dependencies import AlertsContainer, found
from services.alerts.entrypoints.schemas import (
    AckRequest,
    AlertDetail,
    AlertList,
    AlertView,
    RuleErrorBody,
    RuleSetView,
    SilenceList,
    SilenceRequest,
    SilenceView,
    TransitionList,
    TransitionView,
)
from services.alerts.service.activation import replace_rules
from services.alerts.service.ports import ActiveRules
from services.alerts.service.silences import InvalidSilence
from shared.http import PG_BIGINT_MAX, ApiError, DateTimeText, error_responses, require_admin
from shared.outages import DATABASE_OUTAGE_ERRORS

STATES = ("inactive", "pending", "firing", "resolved")
MAX_RULES_BODY = 1_000_000


def transition_view(row: Any, rules: RuleSet) -> TransitionView:
    rule = rules.by_id(row["rule_id"])
    return TransitionView(**dict(row.items()), severity=rule.severity if rule else None)


def silence_view(row: Any, now: datetime) -> SilenceView:
    return SilenceView(
        id=row["silence_id"], matchers=row["matchers"], starts_at=row["starts_at"], ends_at=row["ends_at"],
        comment=row["comment"], author=row["author"], created_at=row["created_at"], expired_at=row["expired_at"],
        status=queries.silence_status(row, now),  # type: ignore[arg-type]
    )  # fmt: skip


def rule_set_view(active: ActiveRules) -> RuleSetView:
    return RuleSetView(
        rule_set_id=active.rule_set_id,
        source=active.source,
        origin=active.origin,
        activated_at=active.activated_at,
        rules=[rule.model_dump(mode="json", by_alias=True) for rule in active.rules.rules],
    )


def _states_param(state: str | None, since: datetime | None) -> list[str]:
    if state is None:
        # Without a filter: what is live now; with `since`, everything that moved since then.
        return [] if since is not None else ["pending", "firing"]
    wanted = [s.strip() for s in state.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(STATES))
    if unknown:
        raise ApiError(422, "invalid_state", f"Trạng thái không hợp lệ / unknown state(s): {', '.join(unknown)}")
    return wanted


def _deleted(silence_id: str) -> ApiError:
    return ApiError(404, "unknown_silence", f"Silence {silence_id} đã bị xóa / silence {silence_id} was deleted")


def _unknown_silence(silence_id: str) -> ApiError:
    return ApiError(404, "unknown_silence", f"Không có silence {silence_id} / no silence {silence_id}")


def _unknown_alert(alert_id: int) -> ApiError:
    return ApiError(404, "unknown_alert", f"Không có cảnh báo {alert_id} / no alert {alert_id}")


AlertId = Annotated[int, Path(ge=1, le=PG_BIGINT_MAX, description="Alert id (a positive 64-bit integer)")]
SilenceId = Annotated[str, Path(max_length=100, description="Silence id as returned on creation")]
# Every route reads PostgreSQL: 503 database_unavailable (with Retry-After) while it is down.
READ = error_responses(422, 503)
NOT_FOUND = error_responses(404, 422, 503)
ADMIN = error_responses(401, 403, 503, descriptions={403: "A token that is not the admin token"})


router = APIRouter()


async def alert_views(container: Container, rows: list[Any]) -> list[AlertView]:
    now = container.clock()
    silences = await container.queries.active_silences(now)
    # rule_exists, names and labels as per the set in force, even if another process activated it.
    await container.rule_book.refresh(container.queries)
    rules = container.rule_book.rules
    return [
        AlertView(
            **queries.alert_view(r["alert_id"], AlertState.from_dict(r["data"]), r["updated_at"], rules, silences, now)
        )
        for r in rows
    ]


@router.get("/v1/alerts", response_model=AlertList, tags=["alerts"], responses=READ,
            summary="Current alerts, or all that moved since")  # fmt: skip
async def list_alerts(
    container: AlertsContainer,
    state: Annotated[str | None, Query(description="Comma-separated states; default pending,firing")] = None,
    unit_id: Annotated[str | None, Query(description="Only this unit")] = None,
    subtree: Annotated[bool, Query(description="With unit_id: the unit and every unit below it")] = False,
    rule_id: Annotated[str | None, Query(description="Only this rule")] = None,
    since: Annotated[DateTimeText | None, Query(description="Alerts with a transition at or after (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many")] = 1000,
) -> AlertList:
    if since is not None and since.tzinfo is None:
        raise ApiError(422, "invalid_since", "`since` cần múi giờ / `since` needs an offset, e.g. +07:00")
    rows = await container.queries.list_alerts(
        states=_states_param(state, since), unit_id=unit_id, subtree=subtree, rule_id=rule_id, since=since,
        limit=limit,
    )  # fmt: skip
    return AlertList(items=await alert_views(container, rows))


@router.get("/v1/alerts/{alert_id}", response_model=AlertDetail, responses=NOT_FOUND, tags=["alerts"],
            summary="One alert with its history")  # fmt: skip
async def get_alert(alert_id: AlertId, container: AlertsContainer) -> AlertDetail:
    row = found(await container.queries.alert_by_id(alert_id), _unknown_alert(alert_id))
    history = await container.queries.transitions(alert_id=alert_id)
    [view] = await alert_views(container, [row])
    rules = container.rule_book.rules
    return AlertDetail(**view.model_dump(), history=[transition_view(h, rules) for h in history])


@router.get("/v1/transitions", response_model=TransitionList, tags=["alerts"], responses=READ,
            summary="History of transitions")  # fmt: skip
async def list_transitions(
    container: AlertsContainer,
    after: Annotated[int, Query(ge=0, le=PG_BIGINT_MAX, description="Only transitions with seq greater than this")] = 0,
    unit_id: Annotated[str | None, Query(description="Only this unit")] = None,
    rule_id: Annotated[str | None, Query(description="Only this rule")] = None,
    since: Annotated[DateTimeText | None, Query(description="Only transitions at or after (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many")] = 500,
) -> TransitionList:
    rows = await container.queries.transitions(
        after_seq=after, unit_id=unit_id, rule_id=rule_id, since=since, limit=limit
    )
    rules = container.rule_book.rules
    items = [transition_view(r, rules) for r in rows]
    return TransitionList(items=items, next_after=items[-1].seq if items else after)


@router.post("/v1/alerts/{alert_id}/ack", response_model=AlertView, tags=["alerts"],
             responses={**NOT_FOUND, **ADMIN, **error_responses(409, descriptions={409: "Not firing (not_firing)"})},
             summary="Acknowledge: stop repeats until the episode resolves (admin token)")  # fmt: skip
async def ack_alert(alert_id: AlertId, body: AckRequest, request: Request, container: AlertsContainer) -> AlertView:
    require_admin(request, container.settings.admin_token)
    try:
        state = await container.evaluator.acknowledge(alert_id, body.by, body.comment)
    except AcknowledgementError as error:
        raise ApiError(409, "not_firing", f"Chỉ xác nhận được cảnh báo đang kích hoạt / {error}") from None
    found(state, _unknown_alert(alert_id))
    container.changed.fire()
    row = await container.queries.alert_by_id(alert_id)
    [view] = await alert_views(container, [row])
    return view


@router.post("/v1/silences", response_model=SilenceView, status_code=201, tags=["silences"],
             responses={**ADMIN, **READ}, summary="Create a silence (admin token)")  # fmt: skip
async def create_silence(body: SilenceRequest, request: Request, container: AlertsContainer) -> SilenceView:
    require_admin(request, container.settings.admin_token)
    try:
        row, now = await container.silences.create(body.matchers, body.starts_at, body.ends_at, body.comment,
                                                   body.author)  # fmt: skip
    except InvalidSilence as error:
        raise ApiError(422, "invalid_silence", str(error)) from None
    return silence_view(row, now)


@router.get("/v1/silences", response_model=SilenceList, tags=["silences"], responses=READ, summary="Silences")
async def list_silences(
    container: AlertsContainer,
    include_expired: Annotated[bool, Query(description="Also list expired silences")] = False,
) -> SilenceList:
    now = container.clock()
    rows = await container.queries.list_silences(include_expired, now)
    return SilenceList(items=[silence_view(r, now) for r in rows])


@router.get("/v1/silences/{silence_id}", response_model=SilenceView, responses=NOT_FOUND, tags=["silences"],
            summary="One silence (404 once deleted)")  # fmt: skip
async def get_silence(silence_id: SilenceId, container: AlertsContainer) -> SilenceView:
    row = found(await container.queries.get_silence(silence_id), _unknown_silence(silence_id))
    if row["expired_at"] is not None:
        raise _deleted(silence_id)
    return silence_view(row, container.clock())


@router.delete("/v1/silences/{silence_id}", response_model=SilenceView, responses={**NOT_FOUND, **ADMIN},
               tags=["silences"],
               summary="Delete (expire now) a silence (admin token); afterwards it answers 404 and is listed "
               "only with include_expired")  # fmt: skip
async def expire_silence(silence_id: SilenceId, request: Request, container: AlertsContainer) -> SilenceView:
    require_admin(request, container.settings.admin_token)
    outcome, row = await container.silences.expire(silence_id)
    if row is None:
        raise _unknown_silence(silence_id) if outcome == "unknown" else _deleted(silence_id)
    return silence_view(row, container.clock())


@router.get("/v1/rules", response_model=RuleSetView, tags=["rules"], responses=error_responses(503),
            summary="The active rule set")  # fmt: skip
async def get_rules(container: AlertsContainer) -> RuleSetView:
    await container.rule_book.refresh(container.queries)  # a set activated through another process shows at once
    return rule_set_view(container.rule_book.active)


@router.put("/v1/admin/rules", response_model=RuleSetView, tags=["rules"],
            responses={**ADMIN, **error_responses(413), 422: {"model": RuleErrorBody, "description": "Invalid rules"}},
            summary="Replace the rule set (admin token; YAML or JSON body as in config/alert_rules.yaml)")  # fmt: skip
async def put_rules(request: Request, container: AlertsContainer) -> Any:
    require_admin(request, container.settings.admin_token)
    raw = await request.body()
    if len(raw) > MAX_RULES_BODY:
        raise ApiError(413, "too_large", "Tài liệu quá lớn / rules document larger than 1 MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "invalid_rules", "Nội dung không phải UTF-8 / body is not UTF-8") from None
    try:
        # Also closes the alerts of the rules the new set drops, in the same transaction.
        active = await replace_rules(container.evaluator, text, "admin API")
    except RuleFileError as error:
        body = RuleErrorBody(
            error="invalid_rules",
            detail=f"Bộ quy tắc có {len(error.problems)} lỗi / {len(error.problems)} problem(s) in the rules",
            problems=[{"path": p.path, "message": p.message} for p in error.problems],  # type: ignore[misc]
        )
        return JSONResponse(body.model_dump(), 422)
    return rule_set_view(active)


@router.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
async def metrics(container: AlertsContainer) -> Response:
    try:
        await container.metrics.refresh(container.pool, [r.name for r in container.receivers.current.all])
    except DATABASE_OUTAGE_ERRORS as error:
        container.health.database_failed(error)  # the database-derived gauges keep their last values
    return Response(container.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
