# scratch has no tag and needs none; the final stage still needs a USER.
# want: LD-DF-101@3
FROM scratch
COPY app /app
HEALTHCHECK NONE
