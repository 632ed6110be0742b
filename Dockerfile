# live-relay: one image for every worker. Tokens come from the environment, the config is mounted.
# Only the core distribution: the emulators and the demo (./sandbox) stay out of production.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RELAY_CONFIG=/etc/live-relay/relay.yaml
WORKDIR /app
COPY pyproject.toml README.md ./
COPY relay ./relay
RUN pip install --no-cache-dir . && useradd --system --create-home relay
USER relay
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"
ENTRYPOINT ["relay"]
CMD ["run"]
