# Mnemo in a container: `docker build -t mnemo .` then `docker run --env-file .env -p 8080:8080 -v mnemo-data:/data mnemo`
# (or `docker compose up` with compose.yaml). The image runs the same command as the Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json

WORKDIR /app

# The pinned set (requirements.txt, every package ==), installed before the code so a code change
# reuses this layer.
COPY requirements.txt ./
RUN pip install --no-deps -r requirements.txt

# A user without a login or root rights owns the data directory; the code stays root's (read-only to Mnemo).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin mnemo \
    && mkdir -p /data \
    && chown mnemo:mnemo /data

COPY . .

USER mnemo
# Accounts, conversations, memories (SQLite + vectors) and the intake queue live here: mount a volume.
VOLUME ["/data"]
EXPOSE 8080

# Liveness only (/healthz never touches a dependency); orchestrators should probe /readyz for traffic.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]

# Exec form: Python is PID 1 and receives SIGTERM itself (graceful shutdown within SHUTDOWN_GRACE_SECONDS).
CMD ["python", "-m", "bot", "run"]
