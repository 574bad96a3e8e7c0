# syntax=docker/dockerfile:1
# One image for the project's three services; the command picks one (docker-compose.yml):
#   python -m simulator serve --config /app/config/compose.yml   (stand-in broker, bot API, Supabase auth)
#   python -m exporters --config /app/config/compose.yml
#   python -m responder --config /app/config/compose.yml          (the default command)
# Secrets come from the environment, each also as NAME_FILE (docs/architecture.md); the PostgreSQL
# password as $PGPASSWORD or $PGPASSWORD_FILE (deploy/docker/entrypoint.sh).
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# The project, installed with pip from pyproject.toml (its dependencies pinned by the same file's ranges).
COPY pyproject.toml README.md ./
COPY common ./common
COPY sources ./sources
COPY exporters ./exporters
COPY responder ./responder
COPY simulator ./simulator
COPY doctor ./doctor
RUN pip install . \
    && python -c "import common, sources, exporters, responder, simulator, doctor"

# The YAML for the Compose deployment (docker-compose.yml also mounts it, so edits need no rebuild);
# its relative paths (responder/playbooks.yml) resolve inside /app.
COPY config ./config
# the runbooks the responder serves at GET /runbooks (responder.runbooks), where the alerts' links open
COPY docs/runbooks.md ./docs/runbooks.md
COPY deploy/docker/entrypoint.sh /usr/local/bin/tradingbot-entrypoint

# An unprivileged user; the directories named volumes are mounted on are created here so that Docker
# initialises the volumes with this ownership.
RUN chmod 0755 /usr/local/bin/tradingbot-entrypoint \
    && groupadd --system --gid 10001 tradingbot \
    && useradd --system --uid 10001 --gid tradingbot --home-dir /app --shell /usr/sbin/nologin tradingbot \
    && mkdir -p /var/log/tradingbot /var/lib/tradingbot/rca \
    && chown -R tradingbot:tradingbot /var/log/tradingbot /var/lib/tradingbot
USER 10001:10001

# simulator: broker, bot API, Supabase auth, control; exporters; responder
EXPOSE 9801 9802 9803 9804 9808 9809

ENTRYPOINT ["/usr/local/bin/tradingbot-entrypoint"]
CMD ["python", "-m", "responder", "--config", "/app/config/compose.yml"]
