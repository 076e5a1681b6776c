# syntax=docker/dockerfile:1
# The Michimori edge agent for a Raspberry Pi (arm64), for sites that prefer a container to the
# systemd unit in deploy/systemd/. Build from the repository root, on any machine:
#   docker buildx build --platform linux/arm64 -f docker/edge.Dockerfile \
#     -t michimori-edge:0.1.0 --load .
# Only the `edge` extra is installed: no numpy, no opencv, no torch on a field node.
# PLATFORM defaults to arm64; --build-arg PLATFORM=linux/amd64 builds one to try on a PC.
ARG PLATFORM=linux/arm64

FROM --platform=${PLATFORM} python:3.11-slim-bookworm AS build
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
 && /opt/michimori/bin/pip install ".[edge]"

FROM --platform=${PLATFORM} python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 michimori \
 && useradd --system --uid 10001 --gid michimori --home-dir /var/lib/michimori \
      --shell /usr/sbin/nologin michimori \
 && mkdir -p /var/lib/michimori/edge /etc/michimori \
 && chown -R michimori:michimori /var/lib/michimori
COPY --from=build /opt/michimori /opt/michimori
ENV PATH=/opt/michimori/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER michimori
WORKDIR /var/lib/michimori
# The disk queue lives here: mount a volume or a host folder, or a restart loses it.
VOLUME ["/var/lib/michimori/edge"]
# SIGTERM makes the agent stop sampling and drain what it can; the rest stays in the queue.
STOPSIGNAL SIGTERM
ENTRYPOINT ["michimori"]
CMD ["edge", "run", "--config", "/etc/michimori/edge.toml"]
