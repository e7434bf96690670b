# The portal's production image: gunicorn on port 8000, static files served by WhiteNoise.
# Every secret comes from the environment at run time (see .env.example, docs/operations.md).

# Build stage: the dependencies in a virtualenv, the static files collected and compressed.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /app
# Dependencies first, from pyproject.toml alone, so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# What .dockerignore lets in: the code, its templates, static files and translations.
COPY . .
# collectstatic reads the settings, which want keys; these sign nothing and are not kept.
RUN DEBUG=false SECRET_KEY=collectstatic-only AUDIT_PII_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && python -m compileall -q /app

# Run stage: the same slim base, the virtualenv and the code, no build tools, no root.
FROM python:3.11-slim-bookworm
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin portal
COPY --from=build /venv /venv
# The code stays owned by root: the portal process can read it but not change it.
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# /healthz answers before host and HTTPS checks, so this plain local call works anywhere.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('GUNICORN_BIND', ':8000').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=8)"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "portal.wsgi"]
