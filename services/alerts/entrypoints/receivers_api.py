"""Admin routes for receivers: create, list, get, update (URL, matchers, secret rotation), delete.

File receivers (config/receivers.yaml) are listed read-only. Receivers of the API live in PostgreSQL
(adapters/receiver_store.py); the process that writes applies the change at once, the others within
RECEIVERS_POLL_INTERVAL_S. Secrets are write-only and stored encrypted (adapters/receiver_secrets.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import TypeAdapter, ValidationError

from services.alerts.adapters import receiver_store as store
from services.alerts.bootstrap import Container
from services.alerts.domain.receivers import AlertmanagerReceiver, AnyReceiver, ApiReceiver, WebhookReceiver
from services.alerts.entrypoints.dependencies import AlertsContainer, found
from services.alerts.entrypoints.receiver_schemas import (
    NAME_PATTERN,
    ReceiverCreate,
    ReceiverList,
    ReceiverUpdate,
    ReceiverView,
)
from shared.http import ApiError, error_responses, require_admin
from shared.settings import check_secret

ReceiverName = Annotated[str, Path(min_length=1, max_length=100, pattern=NAME_PATTERN, description="Receiver name")]
_API_RECEIVER = TypeAdapter(ApiReceiver)
ADMIN = error_responses(401, 403, 422, 503, descriptions={403: "A token that is not the admin token"})
CONFLICT = error_responses(
    409,
    descriptions={
        409: "receiver_exists (name taken, also by a file receiver), file_receiver (edit config/receivers.yaml) "
        "or secret_key_missing (RECEIVERS_SECRET_KEY unset: no secret can be stored)"
    },
)
NOT_FOUND = error_responses(404)


def file_view(receiver: AnyReceiver, secret_set: bool) -> ReceiverView:
    is_email = not isinstance(receiver, AlertmanagerReceiver | WebhookReceiver)
    return ReceiverView(
        name=receiver.name, type=receiver.type, source="file", url=None if is_email else str(receiver.url),  # type: ignore[union-attr]
        matchers=receiver.matchers, grouping=receiver.grouping, retry=receiver.retry,
        timeout=None if is_email else receiver.timeout,  # type: ignore[union-attr]
        firing_ttl=receiver.firing_ttl if isinstance(receiver, AlertmanagerReceiver) else None,
        secret_set=secret_set, secret_env=getattr(receiver, "secret_env", None),
        secret_rotated_at=None, created_at=None, updated_at=None,
    )  # fmt: skip


def api_view(row: Any) -> ReceiverView:
    receiver = store.receiver_of(row)
    return ReceiverView(
        name=receiver.name, type=receiver.type, source="api", url=str(receiver.url), matchers=receiver.matchers,
        grouping=receiver.grouping, retry=receiver.retry, timeout=receiver.timeout,
        firing_ttl=receiver.firing_ttl if isinstance(receiver, AlertmanagerReceiver) else None,
        secret_set=row["secret_ciphertext"] is not None, secret_env=None,
        secret_rotated_at=row["secret_rotated_at"], created_at=row["created_at"], updated_at=row["updated_at"],
    )  # fmt: skip


def _invalid(error: ValidationError) -> ApiError:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ApiError(422, "invalid_receiver", f"Người nhận không hợp lệ / invalid receiver: {where}: {first['msg']}")


def _checked_secret(value: str) -> str:
    try:
        return check_secret(value, "secret")
    except ValueError as error:
        raise ApiError(422, "invalid_secret", f"Khóa bí mật không dùng được / {error}") from None


def _unknown(name: str) -> ApiError:
    return ApiError(404, "unknown_receiver", f"Không có người nhận {name} / no receiver {name}")


def _encrypt(container: Container, secret: str) -> bytes:
    box = container.receiver_store.box
    if box is None:
        raise ApiError(409, "secret_key_missing",
                       "Chưa đặt RECEIVERS_SECRET_KEY, không lưu được khóa bí mật / RECEIVERS_SECRET_KEY is not "
                       "set: secrets cannot be stored")  # fmt: skip
    return box.encrypt(_checked_secret(secret))


def _refuse_file(container: Container, name: str) -> None:
    if name in container.receivers.current.file_names:
        raise ApiError(409, "file_receiver",
                       f"{name} được khai báo trong tệp, hãy sửa config/receivers.yaml / {name} comes from the "
                       "receivers file: edit config/receivers.yaml")  # fmt: skip


def _taken(name: str) -> ApiError:
    return ApiError(409, "receiver_exists", f"Tên {name} đã dùng / name {name} is taken")


async def _in_force(container: Container, row: Any) -> ReceiverView:
    """The process that wrote applies the change at once (the others at their next poll)."""
    await container.receivers.follow_api(container.receiver_store, force=True)
    return api_view(row)


router = APIRouter()


@router.get("/v1/admin/receivers", response_model=ReceiverList, tags=["receivers"], responses=ADMIN,
            summary="Receivers in force, from the file and the API (admin token; secrets never shown)")  # fmt: skip
async def list_receivers(request: Request, container: AlertsContainer) -> ReceiverList:
    require_admin(request, container.settings.admin_token)
    current = container.receivers.current
    files = [file_view(r, r.name in current.secrets) for r in current.document.receivers]
    rows = await container.receiver_store.fetch_all()
    return ReceiverList(items=files + [api_view(r) for r in rows if r["name"] not in current.file_names])


@router.get("/v1/admin/receivers/{name}", response_model=ReceiverView, tags=["receivers"],
            responses={**ADMIN, **NOT_FOUND}, summary="One receiver (admin token)")  # fmt: skip
async def get_receiver(name: ReceiverName, request: Request, container: AlertsContainer) -> ReceiverView:
    require_admin(request, container.settings.admin_token)
    current = container.receivers.current
    if name in current.file_names:
        receiver = current.by_name(name)
        assert receiver is not None
        return file_view(receiver, name in current.secrets)
    return api_view(found(await container.receiver_store.fetch_one(name), _unknown(name)))


@router.post("/v1/admin/receivers", response_model=ReceiverView, status_code=201, tags=["receivers"],
             responses={**ADMIN, **CONFLICT},
             summary="Add a webhook or Alertmanager receiver (admin token); in force in every process within "
             "RECEIVERS_POLL_INTERVAL_S")  # fmt: skip
async def create_receiver(body: ReceiverCreate, request: Request, container: AlertsContainer) -> ReceiverView:
    require_admin(request, container.settings.admin_token)
    fields = body.model_dump(exclude={"secret"}, exclude_none=True)
    try:
        receiver = _API_RECEIVER.validate_python(fields)
    except ValidationError as error:
        raise _invalid(error) from None
    secret = body.secret.get_secret_value() if body.secret is not None else None
    if receiver.type == "webhook" and not secret:
        raise ApiError(422, "invalid_secret", "Webhook cần khóa HMAC / a webhook needs its HMAC `secret`")
    if receiver.name in container.receivers.current.file_names:
        raise _taken(receiver.name)
    token = _encrypt(container, secret) if secret else None
    row = await container.receiver_store.insert(receiver, token, container.clock())
    if row is None:
        raise _taken(receiver.name)
    return await _in_force(container, row)


@router.patch("/v1/admin/receivers/{name}", response_model=ReceiverView, tags=["receivers"],
              responses={**ADMIN, **NOT_FOUND, **CONFLICT},
              summary="Change a receiver of the API: URL, matchers, grouping, retry, timeouts; rotate its secret "
              "(admin token)")  # fmt: skip
async def update_receiver(
    name: ReceiverName, body: ReceiverUpdate, request: Request, container: AlertsContainer
) -> ReceiverView:
    require_admin(request, container.settings.admin_token)
    _refuse_file(container, name)
    current = store.receiver_of(found(await container.receiver_store.fetch_one(name), _unknown(name)))
    changes = body.model_dump(exclude={"secret", "remove_secret"}, exclude_none=True)
    try:
        receiver = _API_RECEIVER.validate_python({**current.model_dump(exclude={"secret_env"}), **changes})
    except ValidationError as error:
        raise _invalid(error) from None
    if body.remove_secret and receiver.type == "webhook":
        raise ApiError(422, "invalid_secret", "Webhook luôn cần khóa HMAC / a webhook always needs a secret")
    secret = body.secret.get_secret_value() if body.secret is not None else None
    token = _encrypt(container, secret) if secret else None
    updated = await container.receiver_store.update(receiver, token, body.remove_secret and token is None,
                                                    container.clock())  # fmt: skip
    return await _in_force(container, found(updated, _unknown(name)))  # None: deleted meanwhile


@router.delete("/v1/admin/receivers/{name}", response_model=ReceiverView, tags=["receivers"],
               responses={**ADMIN, **NOT_FOUND, **CONFLICT},
               summary="Remove a receiver of the API (admin token); its pending messages are given up")  # fmt: skip
async def delete_receiver(name: ReceiverName, request: Request, container: AlertsContainer) -> ReceiverView:
    require_admin(request, container.settings.admin_token)
    _refuse_file(container, name)
    row = found(await container.receiver_store.delete(name, container.clock()), _unknown(name))
    return await _in_force(container, row)
