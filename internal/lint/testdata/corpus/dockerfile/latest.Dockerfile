# want: LD-DF-109@2 LD-DF-110@2
FROM docker.io/library/alpine:latest
HEALTHCHECK NONE
USER 1000
