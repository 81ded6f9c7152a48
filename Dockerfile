# The m2m token server in a static, non-root image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t m2m .
#   docker run -d -p 8443:8443 -v m2m-data:/data -v /etc/m2m/tls:/tls:ro \
#     -e M2M_ISSUER=https://auth.example.com m2m
#
# The image runs, as uid/gid 65532,
#   m2m serve --data /data --addr 0.0.0.0:8443 --tls-cert /tls/tls.crt --tls-key /tls/tls.key
# with the data directory (SQLite database, master secret, admin token) in
# the /data volume. Every setting can also come from its M2M_* environment
# variable (M2M_ISSUER, M2M_DATABASE, M2M_REDIS, ...); set M2M_ISSUER to the
# public https URL clients reach the server at.
#
# Client secrets travel in token requests, so the server is reached over
# TLS, in one of two ways:
#   - m2m terminates TLS (the default command): mount the certificate chain
#     and key at /tls/tls.crt and /tls/tls.key. The key must be readable by
#     uid 65532 and by nobody else: owned by 65532 with mode 0600, or owned
#     by root, group 65532, mode 0640 (a Kubernetes secret volume with
#     fsGroup: 65532 and defaultMode: 0440). Renewed files are served within
#     seconds, at once on SIGHUP (docker kill --signal HUP); connections in
#     progress are not dropped.
#   - a TLS-terminating proxy or ingress in front: plain HTTP on a
#     non-loopback address needs the explicit --insecure-http flag:
#       docker run ... m2m serve --data /data --addr 0.0.0.0:8080 --insecure-http
#
# Admin commands run in the same image on the same volume:
#   docker run --rm -v m2m-data:/data m2m client create --data /data ...

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION and REVISION are stamped into the binary: m2m --version, the
# start log and the m2m_build_info metric show them. Go cannot record the
# revision itself here because .git is not in the build context.
ARG VERSION=devel
ARG REVISION=
# A static binary (modernc.org/sqlite is pure Go), without the builder's
# paths; -buildvcs=false because .git is not in the build context.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/m2mkit/m2m/internal/version.Version=${VERSION} -X github.com/m2mkit/m2m/internal/version.Commit=${REVISION}" \
      -o /out/m2m ./cmd/m2m
# The image's file system, with its modes (COPY keeps them): a user and
# group for uid/gid 65532, /tmp (1777, for SQLite's temporary files), an
# empty data directory (0700) for the volume, the binary (0555).
RUN mkdir -p /out/rootfs/etc /out/rootfs/tmp /out/volume/data \
 && echo 'm2m:x:65532:65532:m2m:/data:/sbin/nologin' > /out/rootfs/etc/passwd \
 && echo 'm2m:x:65532:' > /out/rootfs/etc/group \
 && chmod 1777 /out/rootfs/tmp && chmod 0700 /out/volume/data && chmod 0555 /out/m2m

FROM scratch
# CA certificates for outbound HTTPS (PostgreSQL and Redis over TLS,
# remote JWKS).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rootfs/ /
# /out/volume holds data/: COPY copies a directory's content, so data
# itself is copied, with its mode 0700, and owned by 65532.
COPY --from=build --chown=65532:65532 /out/volume/ /
COPY --from=build /out/m2m /usr/local/bin/m2m
USER 65532:65532
WORKDIR /data
ENV M2M_DATA=/data
VOLUME ["/data"]
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/m2m"]
CMD ["serve", "--data", "/data", "--addr", "0.0.0.0:8443", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
