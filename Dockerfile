# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 aftersales

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=aftersales:aftersales . .
# Build-time only: collectstatic and compilemessages need settings to load,
# not a real secret. The running containers get SECRET_KEY from the environment.
RUN SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdef DEBUG=false \
        python manage.py collectstatic --noinput \
    && if [ -d locale ]; then SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdef \
        python manage.py compilemessages --ignore=.venv; fi \
    && mkdir -p /app/var && chown -R aftersales:aftersales /app/var /app/staticfiles

USER aftersales
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["gunicorn", "aftersales.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-", "--forwarded-allow-ips", "*"]
