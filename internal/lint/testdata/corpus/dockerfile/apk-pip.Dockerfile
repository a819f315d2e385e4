# want: LD-DF-115@5 LD-DF-116@6 LD-DF-116@7
FROM python:3.12.4-alpine@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN apk add --no-cache --virtual .build gcc musl-dev=1.2.5-r0
RUN pip install --no-cache-dir flask requests==2.32.3
RUN python3 -m pip install gunicorn
RUN pip install -r requirements.txt && pip install . && pip install "django>=4.2,<5"
