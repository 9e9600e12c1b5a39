# One image for the three services and the migration step; docker-compose.yml picks the command.
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
RUN pip install . && useradd --system --no-create-home tthc
USER tthc
# Inside a container the services listen on every interface; compose publishes the ports.
ENV BIND_HOST=0.0.0.0
CMD ["python", "-m", "services.scoring"]
