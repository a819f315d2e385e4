# want: LD-DF-114@5 LD-DF-117@5
FROM debian:12.7-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN apt-get update && apt-get install -y curl git=1:2.39.2-1.1 \
      -o Dpkg::Options::=--force-confold \
    && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y -o APT::Install-Recommends=false jq=1.6-2.1
