# want: LD-DF-103@5 LD-DF-104@6
FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
ADD config.yaml /etc/app/
ADD https://example.com/tool.tar.gz /opt/
ADD rootfs.tar.xz /
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool2 /opt/
