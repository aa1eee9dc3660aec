#!/bin/sh
# Build the backing-service test images of test/docker/t-services.c (issue
# 13) from busybox-static with `docker import`, no registry:
#
#   bluegreen-test/svc:1  waits $DELAY seconds (default 3), then touches
#                         /tmp/ready and serves /www with busybox httpd on
#                         :5432: a service that becomes healthy late, checked
#                         by a health command (test -f /tmp/ready) or tcp
#   bluegreen-test/svc:2  the same image under another tag (an image change)
#
# The delay lives in the image's own start script (#!/bin/busybox sh), so the
# site file needs no shell: its health command is an argv. Cached by the
# input hash label bluegreen-test.inputs, as build.sh does.
set -eu
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || { echo "build-svc.sh: $BUSYBOX not found (apt-get install busybox-static)" >&2; exit 1; }
inputs=$(cat "$0" "$BUSYBOX" | sha256sum | cut -c1-16)
got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' bluegreen-test/svc:2 2>/dev/null || true)
if [ "$got" = "$inputs" ] && [ "${BG_IMAGES_REBUILD:-0}" != 1 ]; then
	echo "service test images ready"
	exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bg-svc-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/www" "$work/tmp"
cp "$BUSYBOX" "$work/bin/busybox"
printf 'svc\n' > "$work/www/index.html"
cat > "$work/bin/slow-start" <<'SH'
#!/bin/busybox sh
/bin/busybox sleep "${DELAY:-3}"
/bin/busybox touch /tmp/ready
exec /bin/busybox httpd -f -p 5432 -h /www
SH
chmod 755 "$work/bin/slow-start"
tar -C "$work" -c . | docker import -c 'CMD ["/bin/slow-start"]' -c 'EXPOSE 5432' \
	-c "LABEL bluegreen-test.inputs=$inputs" - bluegreen-test/svc:1 >/dev/null
docker tag bluegreen-test/svc:1 bluegreen-test/svc:2
echo "service test images ready"
