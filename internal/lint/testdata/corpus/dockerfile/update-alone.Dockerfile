# want: LD-DF-105@5 LD-DF-105@6
FROM debian:12.7-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN apt-get update
RUN apk update
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
RUN apk update --no-cache
