# The base image comes from an ARG default: checked as expanded.
# want: LD-DF-109@4 LD-DF-110@4
ARG BASE=python:latest
FROM ${BASE}
HEALTHCHECK NONE
USER 1000
