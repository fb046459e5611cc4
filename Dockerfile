# One image for every process of the scaled set-up (docker-compose.yml): the action server,
# the Rasa servers, the hub and the one-shot database seed; each service picks its command.
#
# The model is trained at build time (`python -m bot.runtime train`: fixed seeds, PYTHONHASHSEED=0,
# TF_DETERMINISTIC_OPS=1, so it is the model the tests ran on) and is part of the image: a
# container starts without training or downloading anything, every Rasa replica loads the same
# file, and the image is the unit that is shipped and rolled back. If models/ in the build
# context already holds the model of this data (`make train` ran), the build reuses it instead of
# training again (~4 min on 2 cores). Nothing is fetched at run time: the NLU components are
# built from the model and the packages (jieba's dictionary, OpenCC's tables, spaCy's blank
# Chinese pipeline ship inside them), and Rasa's telemetry is off.

FROM python:3.10-slim-bookworm AS base
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONPATH=/app RASA_TELEMETRY_ENABLED=false
WORKDIR /app

FROM base AS build
# A compiler for the few dependencies without a wheel for this platform (jieba is pure Python).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv && pip install --upgrade pip
# Dependencies first (a layer that changes only with pyproject.toml); the project's own
# packages are served from /app through PYTHONPATH, so the install takes only what they need.
COPY pyproject.toml README.md ./
RUN mkdir -p bot actions handoff && touch bot/__init__.py actions/__init__.py handoff/__init__.py \
    && pip install . && pip uninstall -y kefu-bot && rm -rf bot actions handoff build *.egg-info
# What shapes the model (bot.runtime.MODEL_INPUTS), then train unless the context brought it.
COPY config.yml domain.yml credentials.yml ./
COPY data ./data
COPY bot ./bot
# models/ is optional in the context (git-ignored); pyproject.toml keeps the COPY valid without it.
COPY pyproject.toml models* ./models/
RUN python -m bot.runtime train && python -m bot.runtime hash > models/CURRENT

FROM base AS app
RUN useradd --create-home --uid 10001 kefu
COPY --from=build /opt/venv /opt/venv
COPY --chown=kefu:kefu . /app
# Only the model of this data (the context may hold older ones), from the build stage.
RUN rm -rf /app/models /app/var && mkdir -p /app/var && chown kefu:kefu /app/var
COPY --from=build --chown=kefu:kefu /app/models /app/models
RUN find /app/models -type f ! -name "kefu-$(cat /app/models/CURRENT).tar.gz" ! -name CURRENT -delete \
    && python -m bot.runtime serve-rasa --dry-run --endpoints /tmp/endpoints.yml >/dev/null
USER kefu
# Each service of docker-compose.yml sets its own command; alone, the image runs a Rasa server.
EXPOSE 5005 5055 8000
CMD ["python", "-m", "bot.runtime", "serve-rasa", "--endpoints", "/app/var/endpoints.yml"]
