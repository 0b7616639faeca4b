# registrator on scratch: the compiled Bun executable (glibc, dynamically linked) plus exactly what
# it loads, a CA bundle for TLS registries and a minimal /etc. Nothing to pull.
#
# The context is assembled by `bun run build.ts --image` (copies the loader and libraries that
# `ldd dist/registrator-linux-x64` lists from the build host into dist/image/rootfs):
#
#   bun run build.ts --image && docker build -t registrator dist/image
#   docker run -d --name=registrator --net=host \
#     -v /var/run/docker.sock:/tmp/docker.sock registrator consul://localhost:8500
#
# DOCKER_HOST is not set on purpose: registrator looks for /tmp/docker.sock, then
# /var/run/docker.sock, so either mount point works (as with gliderlabs/registrator).
FROM scratch
COPY rootfs/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/bin/registrator"]
