# The assistant's image: CPU only, no model download at run time (the model ships in a PyPI package).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    ASSISTANT_DATA_DIR=/data ASSISTANT_TORCH_THREADS=1 \
    ASSISTANT_MODEL_CACHE=/opt/gdpr-assistant/models
# CPU build of torch first (a bare `torch` would pull several GB of CUDA).
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
# A regular (not editable) install of runtime dependencies only: the wheel carries the corpus, templates,
# static files and catalogues (setup.py copies corpus/ and web/ in), so the sources are removed after it
# and every command runs on the installed package (tests/test_packaging.py does the same natively).
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY assistant ./assistant
COPY corpus ./corpus
COPY web ./web
# The ONNX export of the embedding model is made in the image, once, not by each container's first index.
RUN pip install --no-cache-dir . && gdpr-assistant models prepare && rm -rf /src && useradd --system --uid 10001 assistant && mkdir -p /data \
    && chown assistant /data && chown -R assistant /opt/gdpr-assistant
WORKDIR /data
USER assistant
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--timeout", "120", \
     "assistant.web.wsgi:app"]
