# syntax=docker/dockerfile:1
#
# snug's three commands, statically linked, on distroless static as nonroot:
#   /scheduler         (the ENTRYPOINT; every kube-scheduler flag works)
#   /descheduler       (command: ["/descheduler"] in the CronJob)
#   /capacity-planner
#
#   make image                                   # IMAGE=snug:$(VERSION), CONTAINER_TOOL=docker
#   docker build --build-arg VERSION=v0.1.0 -t snug:v0.1.0 .
#
# The builder runs `make build`, so the image carries exactly the binaries and
# ldflags of a local build. .git is not in the context (.dockerignore): the
# version comes in as build args, which make image fills from git.

ARG GO_VERSION=1.26

# The builder runs on the build machine's platform and cross-compiles (no
# cgo) for the target's: docker buildx build --platform linux/arm64 works.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
WORKDIR /src
# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=unknown
ARG GIT_COMMIT=unknown
ARG GIT_TREE_STATE=
ARG BUILD_DATE
RUN --mount=type=cache,target=/root/.cache/go-build \
    GOOS="${TARGETOS}" GOARCH="${TARGETARCH}" make build BIN=/out \
        VERSION="${VERSION}" GIT_COMMIT="${GIT_COMMIT}" GIT_TREE_STATE="${GIT_TREE_STATE}" \
        BUILD_DATE="${BUILD_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=unknown
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="snug" \
      org.opencontainers.image.description="snug: a secondary kube-scheduler and descheduler that place pods without stranding resources" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}"
COPY --from=builder /out/scheduler /scheduler
COPY --from=builder /out/descheduler /descheduler
COPY --from=builder /out/capacity-planner /capacity-planner
USER 65532:65532
ENTRYPOINT ["/scheduler"]
