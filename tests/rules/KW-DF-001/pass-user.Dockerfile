FROM golang:1.22.3@sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809 AS build
RUN go build -o /out/app ./cmd/app
FROM gcr.io/distroless/static-debian12:nonroot@sha256:9a8b7c6d5e4f30291a8b7c6d5e4f30291a8b7c6d5e4f30291a8b7c6d5e4f3029
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
