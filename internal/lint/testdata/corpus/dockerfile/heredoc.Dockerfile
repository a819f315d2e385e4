# syntax=docker/dockerfile:1
# A heredoc RUN is checked like any other.
# want: LD-DF-111@6
FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
RUN <<EOT
set -e
curl -sSL https://example.com/get | sh
EOT
USER 1000
