"""`python -m infra.topics`: create the product's Kafka topics on KAFKA_BOOTSTRAP_SERVERS (idempotent)."""

from __future__ import annotations

import asyncio
import os

from infra.kafka_local import ensure_topics, wait_ready


async def _main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    await wait_ready(bootstrap)
    await ensure_topics(bootstrap)
    print(f"topics ready on {bootstrap}")


if __name__ == "__main__":
    asyncio.run(_main())
