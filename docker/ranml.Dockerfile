# The ranml runtime image: xApps, rApps, dApps and e2sim (one package, no torch).
#
#   docker build -f docker/ranml.Dockerfile -t nexus3.o-ran-sc.org:10002/ranml-xapp:0.1.0 .
#   docker build -f docker/ranml.Dockerfile --build-arg WITH_LIBRMR=0 -t ghcr.io/ranml/ranml-rapp:0.1.0 .
#
# WITH_LIBRMR=1 (default) installs the RMR C library from the O-RAN SC package repository, so the
# xApp can run with `--transport=librmr` (ricxappframe); without it the pure-Python RMR transport
# (the default) works the same.
ARG PYTHON=3.11

FROM python:${PYTHON}-slim-bookworm AS build
WORKDIR /src
# gcc: the serving runtime's compiled helpers (optional; without them, slower numpy/ctypes paths)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/ranml \
 && /opt/ranml/bin/pip install --no-cache-dir -c constraints.txt '.[serving,ric,lifecycle]'

FROM python:${PYTHON}-slim-bookworm AS librmr
ARG WITH_LIBRMR=1
ARG RMR_VERSION=4.9.4
RUN mkdir -p /rmr && if [ "$WITH_LIBRMR" = "1" ]; then \
      apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \
      && curl -fsSL -o /tmp/rmr.deb \
         "https://packagecloud.io/o-ran-sc/release/packages/debian/stretch/rmr_${RMR_VERSION}_amd64.deb/download.deb" \
      && dpkg -x /tmp/rmr.deb /tmp/rmr && cp -a /tmp/rmr/usr/local/lib/. /rmr/ ; \
    fi

FROM python:${PYTHON}-slim-bookworm
COPY --from=build /opt/ranml /opt/ranml
COPY --from=librmr /rmr/ /usr/local/lib/
RUN ldconfig && groupadd --gid 10001 ranml && useradd --uid 10001 --gid 10001 --no-create-home ranml
ENV PATH=/opt/ranml/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 4560 4561 8080
ENTRYPOINT ["ranml"]
CMD ["--help"]
