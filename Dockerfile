# Contestable, production-like image: gunicorn for the web, the same image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    MEDIA_ROOT=/app/var/private

WORKDIR /app

RUN groupadd --system --gid 10001 contestable \
    && useradd --system --uid 10001 --gid contestable --home-dir /app --no-create-home contestable

# Dependencies first, from the pins in pyproject.toml, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself. It is installed in place (-e) so that settings.BASE_DIR is /app: templates,
# static files and the private media directory are found beside the code, exactly as in development.
COPY . .
RUN pip install --no-deps -e . \
    && DJANGO_DEBUG=false SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput \
    && mkdir -p /app/var/private \
    && chown -R contestable:contestable /app/var

USER contestable
EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
