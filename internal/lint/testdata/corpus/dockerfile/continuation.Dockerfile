# Findings point at the first line of a multi-line instruction.
# want: LD-DF-111@6 LD-DF-114@6
FROM debian:12.7-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      curl \
 && curl -fsSL https://example.com/x.sh \
    | bash
