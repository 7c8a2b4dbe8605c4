# syntax=docker/dockerfile:1
# The image of every service. Build context is the repository root (the uv workspace); the service and
# its port are build arguments, both required (an image built without them would be nobody's):
#   docker build --build-arg SERVICE=chat-service --build-arg PORT=8002 -t bigtech-chat/chat-service .
# Why each choice: docs/deploy.md, "Images".

# uv comes from its own pinned image; the runtime stage never sees it.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---------------------------------------------------------------------------------------------------------
# builder: resolve nothing, install exactly what uv.lock says for this one workspace member
# ---------------------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder
COPY --from=uv /uv /usr/local/bin/uv
# binutils for `strip` (tools/images/prune_venv.sh): builder only, the runtime never sees it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils=2.40-2 \
    && rm -rf /var/lib/apt/lists/*
# The venv lives at /opt/venv in both stages (same path, same base image), so its shebangs and its
# python symlink stay valid after the copy. --no-editable below makes it self-contained: chat_shared is
# installed as a wheel, the source tree is not needed at runtime.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_LINK_MODE=copy \
    UV_FROZEN=1 \
    UV_NO_CACHE=1
WORKDIR /src

# Dependencies first: this layer changes only when uv.lock or a pyproject changes, not on every code edit.
# uv needs every workspace member's pyproject.toml to load the workspace, even the ones it won't install
# (one line per member: the classic builder has no COPY that keeps the directories of a wildcard match).
COPY pyproject.toml uv.lock ./
COPY services/shared/pyproject.toml services/shared/
COPY services/user-service/pyproject.toml services/user-service/
COPY services/friend-service/pyproject.toml services/friend-service/
COPY services/chat-service/pyproject.toml services/chat-service/
COPY services/notification-service/pyproject.toml services/notification-service/
ARG SERVICE
ARG PORT
RUN : "${PORT:?build with --build-arg PORT=<port>}" \
    && uv sync --no-dev --package "${SERVICE:?build with --build-arg SERVICE=<service>}" \
        --no-install-workspace --no-editable

# Then the shared library, built into a wheel and installed into the venv; then what no service needs at
# runtime goes (bytecode, stubs, sources, debug symbols: tools/images/prune_venv.sh, which the size
# estimate of tests/infra runs too). Last, the venv is pointed at the runtime's interpreter: Debian 12's
# /usr/bin/python3.11 in the distroless image (same CPython 3.11 ABI as this stage's, so the wheels fit).
COPY services/shared/ services/shared/
COPY tools/images/prune_venv.sh /tmp/prune_venv.sh
RUN uv sync --no-dev --package "${SERVICE}" --no-editable \
    && sh /tmp/prune_venv.sh /opt/venv \
    && for link in python python3 python3.11; do ln -sf /usr/bin/python3.11 "/opt/venv/bin/${link}"; done \
    && sed -i 's|^home = .*|home = /usr/bin|' /opt/venv/pyvenv.cfg

# ---------------------------------------------------------------------------------------------------------
# runtime: distroless Python 3.11 on Debian 12 (no shell, no package manager), the venv and the code
# ---------------------------------------------------------------------------------------------------------
FROM gcr.io/distroless/python3-debian12:nonroot AS runtime

ARG SERVICE
ARG PORT

LABEL org.opencontainers.image.title="bigtech-chat-${SERVICE}" \
      org.opencontainers.image.description="BigTech Chat ${SERVICE}" \
      org.opencontainers.image.licenses="MIT"

# PYTHONPYCACHEPREFIX: the image ships no bytecode (about 40 MB saved); with a read-only root filesystem
# Python writes it to the writable /tmp instead, so the second worker of a pod reuses the first one's.
ENV PATH=/opt/venv/bin:/usr/bin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONPYCACHEPREFIX=/tmp/pycache \
    SERVICE_NAME=${SERVICE} \
    PORT=${PORT} \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Code stays root-owned and read-only for the app user: a compromised worker cannot rewrite it.
COPY services/${SERVICE}/ /app/

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup (distroless
# has no useradd, and needs no passwd entry for a numeric USER).
USER 10001:10001
EXPOSE ${PORT}

# No curl in the image: the standard library does the probe. /health checks no dependency, so a database
# outage does not make Docker restart a healthy process.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ['PORT'], timeout=2)"]

# gunicorn is PID 1: it handles SIGTERM as a graceful stop (see chat_shared/gunicorn_conf.py).
CMD ["/opt/venv/bin/gunicorn", "main:app", "-c", "python:chat_shared.gunicorn_conf"]
