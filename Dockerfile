# One image for the three services and the migration step; docker-compose.yml picks the command.

# Scoring's per-event modules compiled with mypyc (services/scoring/compiled.py) in an image that has gcc; only the
# C extensions go on to the slim image (the same CPython 3.11). mypy's version is the one pinned in pyproject.toml.
FROM python:3.11 AS compiled
WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir . "mypy==2.4.1" && python -m services.scoring.build_compiled build > /dev/null

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY infra ./infra
COPY migrations ./migrations
COPY config ./config
COPY data ./data
COPY --from=compiled /app/services/scoring/_hot.sources /app/services/scoring/*.so ./services/scoring/
COPY --from=compiled /app/services/scoring/domain/*.so ./services/scoring/domain/
COPY --from=compiled /app/shared/*.so ./shared/
# The services run from /app's sources (python -m); PYTHONDONTWRITEBYTECODE keeps a start from writing their bytecode,
# so it is written here once, or every start compiles each module again (≈ 0.15-0.2 s of CPU a scoring process).
RUN pip install . && python -m compileall -q shared services && useradd --system --no-create-home tthc
USER tthc
# Inside a container the services listen on every interface; compose publishes the ports.
ENV BIND_HOST=0.0.0.0
CMD ["python", "-m", "services.scoring"]
