# One image for the Python services of compose.yml (webhook, exporters, demo).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporters exporters
COPY alert_webhook alert_webhook
COPY demo demo
COPY stack stack
COPY toolkit toolkit
RUN pip install --no-cache-dir . && useradd --system --home /app recovery && mkdir -p /app/var && chown recovery /app/var
USER recovery
