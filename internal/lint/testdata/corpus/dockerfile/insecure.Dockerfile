# want: LD-DF-118@5 LD-DF-118@6 LD-DF-118@7 LD-DF-118@8
FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN curl -k -o /tmp/x https://internal.example.com/x
RUN wget --no-check-certificate https://internal.example.com/y
RUN pip install --trusted-host pypi.internal example-pkg==1.0
RUN apk add --allow-untrusted /tmp/pkg.apk
