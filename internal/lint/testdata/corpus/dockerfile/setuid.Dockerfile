# want: LD-DF-112@5 LD-DF-112@6 LD-DF-112@7
FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN chmod u+s /usr/local/bin/helper
RUN chmod 4755 /usr/local/bin/other
COPY --chmod=2755 tool /usr/local/bin/tool
RUN chmod 0755 /usr/local/bin/fine && chmod -R u+rwX /app
