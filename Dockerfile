# live-relay: one image for every worker. Tokens come from the environment, the config is mounted.
# Only the core distribution: the emulators and the demo (./sandbox) stay out of production.
# Versions are pinned by constraints.txt, the same file CI installs with (.ci/run).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RELAY_CONFIG=/etc/live-relay/relay.yaml
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY relay ./relay
RUN PIP_CONSTRAINT=/app/constraints.txt pip install --no-cache-dir . \
    && useradd --system --create-home relay
USER relay
EXPOSE 8080
# Ready = Redis reachable and every enabled platform connected (/readyz). The address is read
# from the mounted config, so a changed api.port needs no change here.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "relay.probe", "readyz"]
ENTRYPOINT ["relay"]
CMD ["run"]
