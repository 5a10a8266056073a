# Headstore: one image for every service, relay, the gateway and migrations (target `production`,
# the default), and a development image with the local stand-ins (target `devtools`: the Stripe
# stand-in and the mail catcher, for the dev overlay's components). The manifests choose what
# runs (`headstore run profiles`, `headstore relay profiles`, `python -m devtools mail`, ...).
#   docker build --target production -t headstore:dev .
#   docker build --target devtools -t headstore-devtools:dev .

# The source without development tools and tests: only this reaches the production image.
FROM python:3.11-slim AS source
COPY . /src
RUN rm -rf /src/devtools \
 && find /src -depth -type d -name tests -exec rm -rf {} +

FROM python:3.11-slim AS platform

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 headstore \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin headstore

WORKDIR /app
# The source tree stays in /app: the gateway serves web/ from here.
COPY --from=source /src /app
RUN pip install . \
 && rm -rf build ./*.egg-info

# Non-root; the Kubernetes manifests also set runAsUser 10001 and a read-only root filesystem.
USER 10001:10001

# gateway HTTP; profiles and notifications gRPC; metrics of services and relays.
EXPOSE 8000 50051 50052 9101 9102 9111 9112

CMD ["headstore", "--help"]

# Development only: the production image plus devtools/ and its extra (localstripe, aiosmtpd).
FROM platform AS devtools
USER root
COPY devtools /app/devtools
RUN pip install ".[devtools]" \
 && rm -rf build ./*.egg-info
USER 10001:10001
CMD ["python", "-m", "devtools", "--help"]

# The default target, last so that a plain `docker build .` gives the production image.
FROM platform AS production
