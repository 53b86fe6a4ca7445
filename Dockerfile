# syntax=docker/dockerfile:1
# Build:   docker build -t xyb-gateway .
# Migrate: docker run --rm -e XYB_DATABASE_URL=... -e XYB_ADMIN_TOKEN=... xyb-gateway xyb db upgrade
# Run:     docker run -p 8000:8000 -e XYB_DATABASE_URL=... -e XYB_ADMIN_TOKEN=... -e XYB_DATA_KEY=...
#            -e XYB_PUBLIC_URL=https://api.example.gov.cn xyb-gateway
# Configured only through XYB_ variables (see the README). The image runs in production mode:
# it refuses default secrets, a missing public URL and an unmigrated database, so migrate first.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XYB_ENV=production \
    XYB_DATA_DIR=/data \
    XYB_HOST=0.0.0.0 \
    XYB_PORT=8000
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin xyb \
    && mkdir -p /data && chown xyb:xyb /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER xyb
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('XYB_PORT', '8000') + '/healthz', timeout=2)"]
CMD ["xyb", "serve"]
