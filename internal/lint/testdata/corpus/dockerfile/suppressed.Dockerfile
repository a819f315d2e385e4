# Suppressions: a reason and expiry, a hadolint comment, an expired one.
# want: LD-DF-108@9 LD-DF-102@9 LD-DF-106@11
# lockdown:ignore=LD-DF-110,LD-DF-109 exp:2099-12-31 the build pins this via renovate
FROM node:latest
HEALTHCHECK NONE
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y curl
# lockdown:ignore=LD-DF-110
FROM alpine
# lockdown:ignore=LD-DF-106 exp:2020-01-01 rotated long ago
ENV API_TOKEN=abc
USER 1000
