# The m2m token server in a static, non-root image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t m2m .
#   docker run -d -p 8080:8080 -v m2m-data:/data -e M2M_ISSUER=https://auth.example.com m2m
#
# The image runs "m2m serve --data /data --addr 0.0.0.0:8080" as uid/gid
# 65532, with the data directory (SQLite database, master secret, admin
# token) in the /data volume. Every flag can also be set with its M2M_*
# environment variable (M2M_ISSUER, M2M_DATABASE, M2M_REDIS, ...); set
# M2M_ISSUER to the public URL clients reach the server at.
#
# Client secrets travel in token requests, so the server must be reached
# over TLS, in one of two ways:
#   - m2m terminates TLS: mount the certificate and key (key mode 0600,
#     readable by uid 65532) and pass them, e.g.
#       docker run ... -v /etc/m2m/tls:/tls:ro m2m serve --data /data \
#         --addr 0.0.0.0:8443 --tls-cert /tls/tls.crt --tls-key /tls/tls.key
#     Renewed files are picked up within seconds, at once on SIGHUP
#     (docker kill --signal HUP).
#   - a TLS-terminating proxy or ingress in front: plain HTTP on a
#     non-loopback address then needs the explicit --insecure-http flag
#     in the command.
# (The --tls-cert, --tls-key and --insecure-http flags come with issue 12
# item 1: on a build without them, the default command serves plain HTTP.)
#
# Admin commands run in the same image on the same volume:
#   docker run --rm -v m2m-data:/data m2m client create --data /data ...

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION is stamped into the binary: m2m --version, the start log and the
# m2m_build_info metric show it.
ARG VERSION=devel
# A static binary (modernc.org/sqlite is pure Go), without the builder's
# paths; -buildvcs=false because .git is not in the build context.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/m2mkit/m2m/internal/version.Version=${VERSION}" \
      -o /out/m2m ./cmd/m2m
# The image's file system: a user and group for uid/gid 65532, an empty
# data directory for the volume, /tmp (SQLite's temporary files).
RUN mkdir -p /out/rootfs/etc /out/rootfs/data /out/rootfs/tmp \
 && echo 'm2m:x:65532:65532:m2m:/data:/sbin/nologin' > /out/rootfs/etc/passwd \
 && echo 'm2m:x:65532:' > /out/rootfs/etc/group \
 && chmod 0700 /out/rootfs/data && chmod 1777 /out/rootfs/tmp

FROM scratch
# CA certificates for outbound HTTPS (PostgreSQL and Redis over TLS,
# remote JWKS).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rootfs/etc/ /etc/
COPY --from=build --chmod=1777 /out/rootfs/tmp /tmp
COPY --from=build --chown=65532:65532 --chmod=0700 /out/rootfs/data /data
COPY --from=build --chmod=0555 /out/m2m /usr/local/bin/m2m
USER 65532:65532
WORKDIR /data
ENV M2M_DATA=/data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/m2m"]
CMD ["serve", "--data", "/data", "--addr", "0.0.0.0:8080"]
