FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxyd ./proxyd
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --uid 10001 proxyd
USER proxyd
EXPOSE 8787
# Inside the container proxyd must listen on all interfaces to be reachable through the
# published port; publish it on loopback only (-p 127.0.0.1:8787:8787).
ENTRYPOINT ["proxyd"]
CMD ["serve", "--host", "0.0.0.0", "--config", "/config/config.yaml"]
