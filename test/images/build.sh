#!/bin/sh
# Build the test images from a busybox-static root filesystem, with no
# registry: `docker import` for the plain images, `docker build` FROM scratch
# (legacy builder, local context only) for the one that needs a HEALTHCHECK,
# which `docker import --change` cannot set.
#
#   bluegreen-test/web:v1 v2 v3  busybox httpd on :8080; GET / -> "vN",
#                                GET /healthz -> "ok", GET /cgi-bin/slow ->
#                                answers after 1 s (in-flight request tests),
#                                POST /cgi-bin/upload -> the number of body
#                                bytes it read (upload tests)
#   bluegreen-test/web:bad       same server, no /healthz (404): never healthy
#   bluegreen-test/web:hc        serves "hc", with a Docker HEALTHCHECK on /healthz
#   bluegreen-test/web:hc-bad    serves "hc-bad" and /healthz, with a Docker
#                                HEALTHCHECK on /nope (404): never healthy
#   bluegreen-test/db:1          a stand-in backing service (busybox sleep)
#
# `build.sh ws` builds, in addition, the WebSocket images (about a minute,
# needs mmdebstrap and the host's Debian mirror, so only the tests that use
# them ask for them):
#
#   bluegreen-test/ws:v1 v2      Debian bookworm (mmdebstrap --variant=essential
#                                + python3-websockets, docker import) running
#                                ws/server.py on :8080: GET / -> "vN", GET
#                                /healthz -> "ok", a WebSocket echoes each
#                                message as "vN: MESSAGE"
#
# Cached by input hash: every image carries the label bluegreen-test.inputs,
# a hash of what it is built from (this script and busybox for the busybox
# images; ws/build-ws.sh, ws/server.py and the mirror for the ws images). An
# image whose label differs (or is missing: built by an older script) is
# built again; BG_IMAGES_REBUILD=1 forces every build.
set -eu
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || { echo "build.sh: $BUSYBOX not found (apt-get install busybox-static)" >&2; exit 1; }
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || {
	echo "build.sh: $BUSYBOX is not statically linked (apt-get install busybox-static)" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
# The inputs of the busybox images: this script (the recipes) and busybox.
inputs=$(cat "$0" "$BUSYBOX" | sha256sum | cut -c1-16)
label="LABEL bluegreen-test.inputs=$inputs"

# have TAG [HASH]: the image exists and was built from these inputs.
have() {
	[ "${BG_IMAGES_REBUILD:-0}" != 1 ] || return 1
	got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' "$1" 2>/dev/null) ||
		return 1
	[ "$got" = "${2:-$inputs}" ]
}

work=$(mktemp -d "${TMPDIR:-/tmp}/bg-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

rootfs() { # rootfs DIR VERSION HEALTHZ(yes|no)
	d=$1
	mkdir -p "$d/bin" "$d/www/cgi-bin" "$d/tmp"
	cp "$BUSYBOX" "$d/bin/busybox"
	for a in sh sleep echo cat env httpd head wc; do ln -sf busybox "$d/bin/$a"; done
	printf '%s\n' "$2" > "$d/www/index.html"
	[ "$3" = yes ] && printf 'ok\n' > "$d/www/healthz"
	cat > "$d/www/cgi-bin/slow" <<CGI
#!/bin/sh
sleep 1
printf 'Content-Type: text/plain\r\n\r\n%s slow\n' "$2"
CGI
	# Reads exactly CONTENT_LENGTH bytes (what httpd announced) and says
	# how many arrived: an upload that reached the container whole.
	cat > "$d/www/cgi-bin/upload" <<'CGI'
#!/bin/sh
n=$(head -c "${CONTENT_LENGTH:-0}" | wc -c)
printf 'Content-Type: text/plain\r\n\r\n%s\n' "$n"
CGI
	chmod 755 "$d/www/cgi-bin/slow" "$d/www/cgi-bin/upload"
}

httpd_cmd='CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]'

for v in v1 v2 v3; do
	have "bluegreen-test/web:$v" && continue
	rootfs "$work/$v" "$v" yes
	tar -C "$work/$v" -c . | docker import -c "$httpd_cmd" -c 'EXPOSE 8080' -c "$label" - "bluegreen-test/web:$v" >/dev/null
done

if ! have bluegreen-test/web:bad; then
	rootfs "$work/bad" bad no
	tar -C "$work/bad" -c . | docker import -c "$httpd_cmd" -c 'EXPOSE 8080' -c "$label" - bluegreen-test/web:bad >/dev/null
fi

hc_image() { # hc_image TAG HEALTH_PATH: the server plus a Docker HEALTHCHECK on that path
	tag=$1 path=$2
	have "bluegreen-test/web:$tag" && return 0
	rootfs "$work/$tag/rootfs" "$tag" yes
	cat > "$work/$tag/Dockerfile" <<DF
FROM scratch
COPY rootfs/ /
EXPOSE 8080
$label
HEALTHCHECK --interval=1s --timeout=1s --retries=3 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080$path"]
CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
DF
	DOCKER_BUILDKIT=0 docker build -q -t "bluegreen-test/web:$tag" "$work/$tag" >/dev/null 2>"$work/build.err" ||
		{ cat "$work/build.err" >&2; exit 1; }
}
hc_image hc /healthz
# /healthz answers 200 here too: only the image's own HEALTHCHECK (on a
# path that 404s) can fail the gate, which is what the test needs to see.
hc_image hc-bad /nope

if ! have bluegreen-test/db:1; then
	mkdir -p "$work/db/bin" "$work/db/data"
	cp "$BUSYBOX" "$work/db/bin/busybox"
	tar -C "$work/db" -c . | docker import -c 'CMD ["/bin/busybox", "sleep", "2147483647"]' \
		-c "$label" - bluegreen-test/db:1 >/dev/null
fi
if [ "${1:-}" = ws ]; then
	sh "$here/ws/build-ws.sh" "$work"
fi
# `build.sh mariadb`: bluegreen-test/mariadb:v1 (mariadb/build-mariadb.sh:
# Debian bookworm's mariadb-server via mmdebstrap, a few minutes), for the
# backup tests and bench.
if [ "${1:-}" = mariadb ]; then
	sh "$here/mariadb/build-mariadb.sh" "$work"
fi
# `build.sh postgres`: bluegreen-test/postgres:v1 (postgres/build-postgres.sh:
# Debian bookworm's postgresql via mmdebstrap, a few minutes), for the
# backup tests of the postgres preset.
if [ "${1:-}" = postgres ]; then
	sh "$here/postgres/build-postgres.sh" "$work"
fi
echo "test images ready"
