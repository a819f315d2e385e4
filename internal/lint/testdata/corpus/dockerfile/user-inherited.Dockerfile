# USER is inherited from the stage the final stage builds on.
# want:
FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001 AS base
USER 10001
HEALTHCHECK CMD ["/bin/true"]
FROM base
COPY app /app
