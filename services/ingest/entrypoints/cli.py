"""`python -m services.ingest COMMAND ...`: operator commands of the ingest service.

    units load FILE            upsert the unit registry (CSV as in SPEC §1, or a JSON array) into DATABASE_URL
    units aliases FILE         add or re-point unit aliases (CSV `alias,unit_id` or JSON)
    keys create --name N --unit U [--unit U ...]    create an API key (printed once)
    keys list                  list keys (no secrets)
    keys revoke KEY_ID         revoke a key (running ingest processes drop it at once)
    import FILE --url URL --key KEY [--format jsonl|csv] [--rejected PATH]
                               bulk-import contract events through the HTTP API, with progress and a summary
    asyncapi [--out PATH]      write the AsyncAPI document of the Kafka topic

Registry and key commands write to PostgreSQL directly (DATABASE_URL, or --database-url) through the same use cases
as the admin endpoints; running ingest processes are told through NOTIFY. `import` goes through the HTTP API, like
any integrator (service/import_events.py says why).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson

from services.ingest.adapters.caches import RegistryCache
from services.ingest.adapters.key_store import PgKeyStore
from services.ingest.adapters.registry_store import PgRegistryStore
from services.ingest.domain.aliases import parse_aliases_csv, parse_aliases_json
from services.ingest.entrypoints.import_command import add_import_arguments
from services.ingest.service.key_admin import InvalidKeyRequestError, KeyAdmin
from services.ingest.service.registry_admin import RegistryAdmin
from shared.db import create_pool
from shared.unit_loading import ParsedUnits, parse_units_csv, parse_units_json
from shared.units import UnitError

EXIT_INVALID = 1  # the input was refused (errors printed); 2 is argparse's usage error


def _database_url(args: argparse.Namespace) -> str:
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set (or pass --database-url)")
    return str(url)


@contextlib.asynccontextmanager
async def _admin(args: argparse.Namespace) -> AsyncIterator[tuple[RegistryAdmin, KeyAdmin]]:
    """The admin use cases over a small pool of DATABASE_URL, closed when the command is done."""
    pool = await create_pool(_database_url(args), max_size=2)
    try:
        registry = RegistryCache(pool, miss_refresh_s=0)
        yield RegistryAdmin(PgRegistryStore(pool), registry), KeyAdmin(PgKeyStore(pool), registry)
    finally:
        await pool.close()


def _read_bytes(path: Path) -> bytes:
    """Small registry/alias files are read at once (before any connection is opened)."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise SystemExit(f"{path}: {error.strerror}") from None


def _read_json(path: Path) -> object:
    try:
        return orjson.loads(_read_bytes(path))
    except orjson.JSONDecodeError as error:
        raise SystemExit(f"{path}: not valid JSON ({error})") from None


def _print_errors(errors: list[UnitError]) -> int:
    for error in errors:
        where = f"row {error.row}" if error.row is not None else "file"
        print(f"  {where}: {error.code}: {error.detail}", file=sys.stderr)
    print(f"{len(errors)} error(s); nothing was applied", file=sys.stderr)
    return EXIT_INVALID


async def cmd_units_load(args: argparse.Namespace) -> int:
    path = Path(args.file)
    parsed: ParsedUnits = (
        parse_units_json(_read_json(path)) if path.suffix.lower() == ".json" else parse_units_csv(_read_bytes(path))
    )
    if parsed.errors:
        return _print_errors(parsed.errors)
    async with _admin(args) as (registry_admin, _):
        outcome = await registry_admin.load_units(parsed.records)
    if outcome.registry is None:
        return _print_errors(outcome.errors)
    print(
        f"registry: {len(outcome.registry)} units ({len(outcome.added)} added, {len(outcome.updated)} updated, "
        f"{len(outcome.registry) - len(outcome.added) - len(outcome.updated)} unchanged)"
    )
    return 0


async def cmd_units_aliases(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix.lower() == ".json":
        rows, unreadable = parse_aliases_json(_read_json(path))
    else:
        rows, unreadable = parse_aliases_csv(_read_bytes(path))
    if unreadable:
        return _print_errors(unreadable)
    async with _admin(args) as (registry_admin, _):
        parsed = await registry_admin.put_aliases(rows)
    if parsed.errors:
        return _print_errors(parsed.errors)
    print(f"aliases: {len(parsed.aliases)} added or updated")
    return 0


async def cmd_keys_create(args: argparse.Namespace) -> int:
    try:
        async with _admin(args) as (_, key_admin):
            new, stored = await key_admin.create(args.name, args.unit)
    except InvalidKeyRequestError as error:
        for line in error.errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_INVALID
    print(f"key_id: {stored.key_id}", file=sys.stderr)
    print(f"units:  {', '.join(stored.units)}", file=sys.stderr)
    print("The key below is shown once; only its hash is stored.", file=sys.stderr)
    print(new.key)  # alone on stdout, so `KEY=$(... keys create ...)` works
    return 0


async def cmd_keys_list(args: argparse.Namespace) -> int:
    async with _admin(args) as (_, key_admin):
        keys = await key_admin.list_keys()
    if args.json:
        print(orjson.dumps([key.as_dict() for key in keys]).decode())
        return 0
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.key_id}  {state:<24}  {','.join(key.units):<30}  {key.name}")
    return 0


async def cmd_keys_revoke(args: argparse.Namespace) -> int:
    async with _admin(args) as (_, key_admin):
        stored = await key_admin.revoke(args.key_id)
    if stored is None:
        print(f"no API key '{args.key_id}'", file=sys.stderr)
        return EXIT_INVALID
    print(f"{stored.key_id} revoked at {stored.revoked_at:%Y-%m-%d %H:%M:%S %Z}")
    return 0


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from services.ingest.entrypoints.docs_routes import asyncapi_document, declare_events_publisher
    from shared.kafka import DOSSIER_EVENTS, make_broker

    topic = args.topic or os.environ.get("EVENTS_TOPIC", DOSSIER_EVENTS)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    broker = make_broker(bootstrap, client_id="tthc-ingest")
    declare_events_publisher(broker, topic)
    from services.ingest.app import VERSION

    document = orjson.dumps(asyncapi_document(broker, VERSION), option=orjson.OPT_INDENT_2)
    if args.out:
        Path(args.out).write_bytes(document + b"\n")
        print(f"AsyncAPI written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(document.decode() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="PostgreSQL DSN (default: $DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    units = sub.add_parser("units", help="the unit registry").add_subparsers(dest="action", required=True)
    load = units.add_parser("load", help="upsert a registry file (.csv or .json)")
    load.add_argument("file")
    load.set_defaults(handler=cmd_units_load)
    aliases = units.add_parser("aliases", help="add or re-point unit aliases (.csv alias,unit_id or .json)")
    aliases.add_argument("file")
    aliases.set_defaults(handler=cmd_units_aliases)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key; the key alone is printed on stdout")
    create.add_argument("--name", required=True, help="who uses the key")
    create.add_argument("--unit", required=True, action="append", help="a unit subtree root (repeatable)")
    create.set_defaults(handler=cmd_keys_create)
    listing = keys.add_parser("list", help="list keys (no secrets)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its key_id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=cmd_keys_revoke)

    add_import_arguments(sub.add_parser("import", help="bulk-import a JSONL or CSV file of events via the API"))

    spec = sub.add_parser("asyncapi", help="write the AsyncAPI document of the events topic")
    spec.add_argument("--out", help="file to write (default: stdout)")
    spec.add_argument("--topic", help="topic name (default: $EVENTS_TOPIC or dossier-events)")
    spec.set_defaults(handler=cmd_asyncapi, sync=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "sync", False):
        return int(args.handler(args))
    return int(asyncio.run(args.handler(args)))


if __name__ == "__main__":
    raise SystemExit(main())
