# Headstore: one image for every service, relay, the gateway, migrations and the dev mail catcher.
# The manifests choose what runs (`headstore run profiles`, `headstore relay profiles`, ...).
#   docker build -t headstore:dev .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 headstore \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin headstore

WORKDIR /app
# The source tree (see .dockerignore) stays in /app: the gateway serves web/ from here.
COPY . .
RUN pip install . \
 && rm -rf build ./*.egg-info

# Non-root; the Kubernetes manifests also set runAsUser 10001 and a read-only root filesystem.
USER 10001:10001

# gateway HTTP; profiles and notifications gRPC; metrics of services and relays.
EXPOSE 8000 50051 50052 9101 9102 9111 9112

CMD ["headstore", "--help"]
