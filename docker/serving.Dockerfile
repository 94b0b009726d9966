# The ranml model server (FastAPI + ONNX Runtime).
#
#   CPU:  docker build -f docker/serving.Dockerfile -t ghcr.io/ranml/ranml-serving:0.1.0 .
#   GPU:  docker build -f docker/serving.Dockerfile \
#           --build-arg BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 --build-arg ORT=onnxruntime-gpu \
#           -t ghcr.io/ranml/ranml-serving-gpu:0.1.0 .
#
# The GPU image runs with `--provider=CUDAExecutionProvider --provider=CPUExecutionProvider`
# (the chart's `providers` value); the provider actually used is reported by /v1/models/{name}.
ARG BASE=python:3.11-slim-bookworm

FROM python:3.11-slim-bookworm AS build
ARG ORT=onnxruntime
WORKDIR /src
# gcc: the serving runtime's compiled helpers (optional; without them, slower numpy/ctypes paths)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/ranml \
 && /opt/ranml/bin/pip install --no-cache-dir -c constraints.txt '.[serving]' \
 && if [ "$ORT" != "onnxruntime" ]; then \
      /opt/ranml/bin/pip uninstall -y onnxruntime && /opt/ranml/bin/pip install --no-cache-dir "$ORT"; fi

FROM ${BASE}
COPY --from=build /opt/ranml /opt/ranml
COPY --from=build /usr/local/ /usr/local/
RUN ldconfig && groupadd --gid 10001 ranml && useradd --uid 10001 --gid 10001 --no-create-home ranml
ENV PATH=/opt/ranml/bin:/usr/local/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["ranml"]
CMD ["serve", "--registry=/models", "--host=0.0.0.0", "--port=8080"]
