# Rapport image: one image for web (gunicorn), worker and beat (celery).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --create-home --uid 1000 rapport

COPY pyproject.toml README.md ./
COPY crm crm
COPY customers customers
COPY campaigns campaigns
COPY feedback feedback
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install -e . \
 && DEBUG=False SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input \
 && mkdir -p var && chown -R rapport:rapport var

USER rapport
EXPOSE 8000
CMD ["gunicorn", "crm.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
