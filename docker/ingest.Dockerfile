# syntax=docker/dockerfile:1
# The Michimori ingest worker (MQTT -> InfluxDB). Built by docker/compose.yaml, or by hand from
# the repository root:
#   docker build -f docker/ingest.Dockerfile -t michimori-ingest:0.1.0 .
# Only the `ingest` extra is installed; the other packages' sources come along because the
# `michimori` command lists every subcommand, but their heavy dependencies do not.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY michimori ./michimori
COPY edge ./edge
COPY ingest ./ingest
COPY inspection ./inspection
COPY firmware_sim ./firmware_sim
RUN python -m venv /opt/michimori \
 && /opt/michimori/bin/pip install ".[ingest]"

FROM python:3.11-slim-bookworm
# A fixed uid, so the secret files on the host can be given to exactly this user
# (docker/init-secrets.sh does that).
RUN groupadd --system --gid 10001 michimori \
 && useradd --system --uid 10001 --gid michimori --home-dir /var/lib/michimori \
      --shell /usr/sbin/nologin michimori \
 && mkdir -p /var/lib/michimori/deadletter /etc/michimori \
 && chown -R michimori:michimori /var/lib/michimori
COPY --from=build /opt/michimori /opt/michimori
ENV PATH=/opt/michimori/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER michimori
WORKDIR /var/lib/michimori
# A named volume mounted here starts as a copy of this folder, owned by michimori.
VOLUME ["/var/lib/michimori"]
EXPOSE 9108
# SIGTERM lets the ingest finish its batch in flight before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["michimori"]
CMD ["ingest", "run", "--config", "/etc/michimori/ingest.toml"]
