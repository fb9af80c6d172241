# okrsync in a container: build, run and the Prefect docker / kubernetes work pools are in docs/containers.md.
#   docker build -t okrsync:0.1.0 .
#   docker run --rm -v "$PWD/config:/srv/okrsync/config:ro" -e OKRSYNC_STORE_URL okrsync:0.1.0 -c config/team.yaml run
# No credential is baked in: they come at run time from the environment (${ENV} in a config) or from Prefect
# Secret blocks (${prefect:name}); .dockerignore keeps .env files, token caches and keys out of the context.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_HOME=/srv/okrsync/.okrsync/prefect

# Only what `pip install .` reads. okrsync/connectors and okrsync/flows are symlinks to the top-level
# connectors/ and flows/, so those two are copied beside okrsync/ (pyproject.toml, [tool.setuptools]).
WORKDIR /tmp/okrsync-build
COPY pyproject.toml constraints.txt README.md ./
COPY okrsync ./okrsync
COPY connectors ./connectors
COPY flows ./flows

# The same pins as `make install` (constraints.txt), installed once for every user, then the sources removed.
# The user okrsync (uid 10001, no password, no sudo) owns only /srv/okrsync, the working directory.
RUN pip install -c constraints.txt . \
    && rm -rf /tmp/okrsync-build \
    && useradd --uid 10001 --user-group --no-log-init --create-home --home-dir /home/okrsync --shell /usr/sbin/nologin okrsync \
    && mkdir -p /srv/okrsync/config \
    && chown -R okrsync:okrsync /srv/okrsync

# Configs are mounted at /srv/okrsync/config (read-only is enough); a config path such as config/team.yaml
# resolves here, as `okrsync deploy` records it. A SQLite store or reports written next to the config need a
# writable mount; with OKRSYNC_STORE_URL (PostgreSQL) nothing is written inside the image. USER is numeric so that
# Kubernetes can check runAsNonRoot.
WORKDIR /srv/okrsync
USER 10001:10001

ENTRYPOINT ["okrsync"]
CMD ["--help"]
