# syntax=docker/dockerfile:1
# Two stages: build a virtualenv with the pinned dependency set (constraints.txt), then copy only that
# into a slim image that runs as an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY marketplace ./marketplace
COPY workers ./workers
RUN python -m venv /opt/tilework \
 && /opt/tilework/bin/pip install -c constraints.txt .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 tilework \
 && useradd --system --uid 10001 --gid tilework --home-dir /var/lib/tilework --create-home tilework
COPY --from=build /opt/tilework /opt/tilework
ENV PATH=/opt/tilework/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TILEWORK_HOME=/var/lib/tilework \
    TILEWORK_HOST=0.0.0.0
USER tilework
WORKDIR /var/lib/tilework
EXPOSE 8000
# Liveness of the API (the default command); compose gives the worker and beat their own checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TILEWORK_PORT', '8000') + '/health', timeout=4)"]
CMD ["tilework", "serve", "--no-migrate"]
