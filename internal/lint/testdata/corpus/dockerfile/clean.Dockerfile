# A Dockerfile that passes every rule.
# want:
FROM golang:1.22.5@sha256:0000000000000000000000000000000000000000000000000000000000000001 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /app .

FROM gcr.io/distroless/static-debian12:nonroot@sha256:0000000000000000000000000000000000000000000000000000000000000001
COPY --from=build /app /app
HEALTHCHECK CMD ["/app", "healthcheck"]
USER 65532:65532
ENTRYPOINT ["/app"]
