# syntax=docker/dockerfile:1.7
# Two stages: build a virtualenv with every dependency, then copy it into a slim runtime
# that runs as an unprivileged user on a read-only root filesystem. Writable paths: /data
# (a volume: index snapshots, objects, Dagster home) and /tmp (a tmpfs: caches, uploads).
#   API:      docker run --read-only --tmpfs /tmp -v manualqa-data:/data -p 8000:8000 \
#               -e DATABASE_URL=... IMAGE
#   Dagster:  docker run --read-only --tmpfs /tmp -v manualqa-data:/data -p 3000:3000 \
#               -e DATABASE_URL=... -e DAGSTER_POSTGRES_URL=... IMAGE \
#               dagster dev -w workspace.yaml -h 0.0.0.0 -p 3000
# Migrations run once, before the API starts: docker run ... IMAGE manualqa migrate

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Point this at a CPU wheel index to keep torch small (an unpinned index pulls CUDA builds).
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential=12.9 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY manualqa ./manualqa
COPY sql ./sql
COPY manual_assets ./manual_assets
COPY serving ./serving
COPY evals ./evals
COPY cli ./cli
RUN pip install --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1 \
    && pip install .

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    TOKENIZERS_PARALLELISM=false \
    MANUALQA_ENVIRONMENT=production \
    MANUALQA_HOME=/app \
    MANUALQA_DATA_DIR=/data \
    MANUALQA_SERVING__HOST=0.0.0.0 \
    DAGSTER_HOME=/data/dagster_home \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/cache \
    HF_HOME=/tmp/cache/huggingface \
    WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 manualqa \
    && useradd --system --uid 10001 --gid manualqa --home-dir /app manualqa \
    && mkdir -p /data/dagster_home \
    && chown -R manualqa:manualqa /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=manualqa:manualqa config.yaml workspace.yaml dagster.yaml ./
COPY --chown=manualqa:manualqa demo_corpus/manuals ./demo_corpus/manuals
COPY --chown=manualqa:manualqa evals ./evals
RUN cp dagster.yaml /data/dagster_home/dagster.yaml
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
# serving.launch (uvicorn, each worker on a listening socket of its own) reads its worker
# count from WEB_CONCURRENCY; each worker opens the published index itself. On SIGTERM it
# stops accepting, lets requests in flight finish (up to 20 s), then exits. A worker gets 60 s
# to answer the health ping (loading the model can take longer than uvicorn's 5 s on a busy
# host). Idle keep-alive connections stay open 75 s, longer than a load balancer's usual 60 s.
CMD ["python", "-m", "serving.launch", "--host", "0.0.0.0", "--port", "8000", \
     "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]
