#!/bin/sh
# Build the wordpress module's test images (called by ../build.sh wordpress),
# stand-ins for the official images' interface, which tests cannot pull
# here (no registry, no internet beyond Debian's mirror): WordPress and
# MariaDB themselves are real, from Debian 12's packages.
#
#   bluegreen-test/wordpress:v1 v2  mmdebstrap --variant=essential of
#       bookworm + wordpress (its default theme twentytwentythree), apache2,
#       libapache2-mod-php, php-mysql;
#       bg-wordpress-start copies the code to /var/www/html on first start
#       and runs apache2 on :80; wp-config.php honours WORDPRESS_DB_HOST,
#       _USER, _PASSWORD, _NAME and WORDPRESS_CONFIG_EXTRA (the official
#       image's contract, modules/wordpress/README.md). v1 and v2 differ by
#       BG_WP_REVISION, served as /bg-revision.txt.
#   bluegreen-test/wp-mariadb:v1  FROM bluegreen-test/mariadb:v1 (built
#       first) with bg-wp-db-start: creates MARIADB_DATABASE and
#       MARIADB_USER/PASSWORD on a fresh data directory, listens on all
#       addresses.
#
# Cached by input hash (label bluegreen-test.inputs: the recipes below, the
# mirror, and each image's own entrypoint and files), as ../mariadb does.
# BG_IMAGES_REBUILD=1 forces it.
#
#   build-wordpress.sh WORKDIR   (a scratch directory the caller removes)
set -eu
work=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null 2>&1 ||
	{ echo "build-wordpress.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

mirror=$(sh "$here/../debian-mirror.sh")
# Each image's own inputs: a change to one entrypoint rebuilds one image.
# (The recipes below are part of both.)
recipe=$(sed -n '/^if ! have/,$p' "$0")
wp_inputs=$( (printf '%s\n' "$recipe" "$mirror"; cat "$here/bg-wordpress-start" \
	"$here/wp-config.php") | sha256sum | cut -c1-16)
db_inputs=$( (printf '%s\n' "$recipe" "$mirror"; cat "$here/bg-wp-db-start") |
	sha256sum | cut -c1-16)

# have TAG HASH: the image exists and was built from these inputs.
have() {
	[ "${BG_IMAGES_REBUILD:-0}" != 1 ] || return 1
	got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' "$1" 2>/dev/null) ||
		return 1
	[ "$got" = "$2" ]
}

if ! have bluegreen-test/wordpress:v1 "$wp_inputs" || ! have bluegreen-test/wordpress:v2 "$wp_inputs"; then
	start=$(date +%s)
	mmdebstrap --variant=essential --quiet \
		--include=wordpress,wordpress-theme-twentytwentythree,apache2,libapache2-mod-php,php-mysql \
		--aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--customize-hook="copy-in $here/bg-wordpress-start /usr/local/sbin" \
		--customize-hook="copy-in $here/wp-config.php /usr/local/share" \
		bookworm "$work/wordpress.tar" "$mirror" >"$work/mmdebstrap-wordpress.log" 2>&1 || {
		cat "$work/mmdebstrap-wordpress.log" >&2
		echo "build-wordpress.sh: mmdebstrap could not build a bookworm root filesystem from $mirror" >&2
		exit 1
	}
	for rev in v1 v2; do
		docker import -c 'ENTRYPOINT ["/usr/local/sbin/bg-wordpress-start"]' -c 'CMD []' \
			-c 'EXPOSE 80' -c "ENV BG_WP_REVISION=$rev" -c "LABEL bluegreen-test.inputs=$wp_inputs" \
			"$work/wordpress.tar" "bluegreen-test/wordpress:$rev" >/dev/null
	done
	rm -f "$work/wordpress.tar"
	echo "bluegreen-test/wordpress:v1 v2 built in $(($(date +%s) - start)) s"
fi

if ! have bluegreen-test/wp-mariadb:v1 "$db_inputs"; then
	sh "$here/../mariadb/build-mariadb.sh" "$work"
	mkdir -p "$work/wpdb"
	cp "$here/bg-wp-db-start" "$work/wpdb/"
	printf '%s\n' 'FROM bluegreen-test/mariadb:v1' 'COPY bg-wp-db-start /usr/local/sbin/' \
		'ENTRYPOINT ["/usr/local/sbin/bg-wp-db-start"]' 'CMD []' \
		"LABEL bluegreen-test.inputs=$db_inputs" >"$work/wpdb/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t bluegreen-test/wp-mariadb:v1 "$work/wpdb" \
		>/dev/null 2>"$work/wpdb.err" || { cat "$work/wpdb.err" >&2; exit 1; }
	echo "bluegreen-test/wp-mariadb:v1 built"
fi
