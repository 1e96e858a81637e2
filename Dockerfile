# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The release the operator page and the "serving" line name; .git is not in
# the build context, so the build cannot read it: docker build --build-arg VERSION=v1.4.0 .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/ordercast ./cmd/ordercast \
 && mkdir -p -m 0700 /out/data

# Run: no shell, no package manager, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/ordercast /app/ordercast
COPY --from=build --chown=nonroot:nonroot /out/data /app/data
USER nonroot:nonroot
# SQLite and the generated jwt_secret live here: a volume keeps them when
# the container is replaced (docker run -v ordercast-data:/app/data).
VOLUME /app/data
ENV HUB_ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/app/ordercast", "healthcheck"]
ENTRYPOINT ["/app/ordercast"]
