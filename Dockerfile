# proxyd in a container.
#
#   docker build -t proxyd .
#   docker run -d --name proxyd -p 127.0.0.1:8787:8787 --stop-timeout 40 \
#     -v ~/.config/proxyd/config.yaml:/etc/proxyd/config.yaml:ro \
#     -e PROXYD_TOKEN="$(openssl rand -hex 16)" -e OPENAI_API_KEY proxyd
#
# Inside a container proxyd must listen on 0.0.0.0 to be reached through the published port, and
# proxyd refuses a non-loopback address without a token: the config needs
#   listen: {token: "${PROXYD_TOKEN:-}"}
# (empty, so no token, when the same file runs proxyd on the host). Clients send the token as
# their API key. Publish the port on 127.0.0.1 only, as above; other containers that reach it
# as http://proxyd:8787 need "proxyd" in listen.allowed_hosts.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY proxyd ./proxyd
RUN pip install --no-cache-dir --no-compile --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 proxyd \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin proxyd \
    && mkdir -p /var/lib/proxyd \
    && chown 10001:10001 /var/lib/proxyd
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
# The response store (previous_response_id) goes to /var/lib/proxyd; mount a volume to keep it.
ENV PYTHONUNBUFFERED=1 \
    PROXYD_CONFIG=/etc/proxyd/config.yaml \
    XDG_STATE_HOME=/var/lib
VOLUME ["/var/lib/proxyd"]
EXPOSE 8787
# /healthz needs no token and calls no provider; the slim image has Python but no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=4)"]
# SIGTERM drains streams for shutdown_grace_s (30 s): give docker stop more (--stop-timeout 40).
STOPSIGNAL SIGTERM
ENTRYPOINT ["proxyd"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8787", "--log-format", "json"]
