# An ARG without a default is chosen at build time: nothing to say.
# want:
ARG BASE
FROM $BASE
HEALTHCHECK NONE
USER 1000
