# Build:   docker build -t xyb-gateway .
# Migrate: docker run --rm -e XYB_DATABASE_URL=... -e XYB_ADMIN_TOKEN=... xyb-gateway xyb db upgrade
# Run:     docker run -p 8000:8000 -e XYB_DATABASE_URL=... -e XYB_ADMIN_TOKEN=... -e XYB_DATA_KEY=...
#            -e XYB_PUBLIC_URL=https://api.example.gov.cn xyb-gateway
# Configured only through XYB_ variables (see the README). The image runs in production mode:
# it refuses default secrets, a missing public URL and an unmigrated database, so migrate first.
#
# No `# syntax=` line: nothing here needs a newer Dockerfile frontend than the builder's own, so
# building pulls nothing but the base image. The base image is one exact Python release on one
# Debian suite, for both stages. Its digest is not pinned because this repository is built and
# tested where no container registry can be reached, and a digest nobody here could check is worse
# than none; where a registry is reachable, pin it:
#   docker buildx imagetools inspect python:3.11.17-slim-trixie     # the index digest
#   docker build --build-arg PYTHON_IMAGE=python:3.11.17-slim-trixie@sha256:<digest> -t xyb-gateway .
ARG PYTHON_IMAGE=python:3.11.17-slim-trixie

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XYB_ENV=production \
    XYB_DATA_DIR=/data \
    XYB_HOST=0.0.0.0 \
    XYB_PORT=8000
# The user is a number (10001:10001), so Kubernetes' runAsNonRoot can verify it is not root.
RUN groupadd --system --gid 10001 xyb \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin xyb \
    && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('XYB_PORT', '8000') + '/healthz', timeout=2)"]
CMD ["xyb", "serve"]
