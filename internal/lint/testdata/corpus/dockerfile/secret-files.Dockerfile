# want: LD-DF-107@5 LD-DF-107@6 LD-DF-107@7 LD-DF-107@8
FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
COPY id_rsa /home/app/.ssh/id_rsa
COPY .env /app/.env
COPY certs/server.key /etc/ssl/private/
COPY .aws/credentials /root/.aws/credentials
COPY config/ /app/config/
COPY .env.example /app/
