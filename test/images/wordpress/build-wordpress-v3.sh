#!/bin/sh
# Build bluegreen-test/wordpress:v3 (t-wordpress's database upgrade case):
# the same stand-in for the official wordpress image's interface as v1 and
# v2 (build-wordpress.sh: bg-wordpress-start, wp-config.php, apache2 +
# mod_php on :80), but from Debian 13 (trixie)'s `wordpress` package: a
# newer WordPress whose $wp_db_version is higher than bookworm's 6.1, so a
# switch from v1 to v3 is a one-way database upgrade. The theme of v1's
# install (twentytwentythree) is included, so v3 renders the same site.
#
# A script of its own, so that its recipe is not an input of v1 and v2
# (their cache stays valid). Cached by input hash (label
# bluegreen-test.inputs: this recipe, the mirror, the entrypoint and
# wp-config.php); BG_IMAGES_REBUILD=1 forces it. The mirror is the host's
# bookworm mirror (../debian-mirror.sh): it carries trixie too.
#
#   build-wordpress-v3.sh WORKDIR   (a scratch directory the caller removes)
set -eu
work=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null 2>&1 ||
	{ echo "build-wordpress-v3.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

mirror=$(sh "$here/../debian-mirror.sh")
inputs=$( (sed -n '/^got=/,$p' "$0"; printf '%s\n' "$mirror"; cat "$here/bg-wordpress-start" \
	"$here/wp-config.php") | sha256sum | cut -c1-16)

got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' \
	bluegreen-test/wordpress:v3 2>/dev/null || true)
if [ "${BG_IMAGES_REBUILD:-0}" != 1 ] && [ "$got" = "$inputs" ]; then
	exit 0
fi
start=$(date +%s)
mmdebstrap --variant=essential --quiet \
	--include=wordpress,wordpress-theme-twentytwentythree,apache2,libapache2-mod-php,php-mysql \
	--aptopt='APT::Install-Recommends "false"' \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook="copy-in $here/bg-wordpress-start /usr/local/sbin" \
	--customize-hook="copy-in $here/wp-config.php /usr/local/share" \
	trixie "$work/wordpress-v3.tar" "$mirror" >"$work/mmdebstrap-wordpress-v3.log" 2>&1 || {
	cat "$work/mmdebstrap-wordpress-v3.log" >&2
	echo "build-wordpress-v3.sh: mmdebstrap could not build a trixie root filesystem from $mirror" >&2
	exit 1
}
docker import -c 'ENTRYPOINT ["/usr/local/sbin/bg-wordpress-start"]' -c 'CMD []' \
	-c 'EXPOSE 80' -c "ENV BG_WP_REVISION=v3" -c "LABEL bluegreen-test.inputs=$inputs" \
	"$work/wordpress-v3.tar" bluegreen-test/wordpress:v3 >/dev/null
rm -f "$work/wordpress-v3.tar"
echo "bluegreen-test/wordpress:v3 built in $(($(date +%s) - start)) s"
