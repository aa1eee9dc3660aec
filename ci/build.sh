#!/bin/sh
# build.sh DIR KIND: configure (once) and build with warnings as errors.
#   KIND gcc         gcc, -Werror
#   KIND clang-asan  clang, -Werror, ASan + UBSan, no recovery
set -eu
dir=$1 kind=$2
cd "$(dirname "$0")/.."
if [ ! -f "$dir/build.ninja" ]; then
	case "$kind" in
	gcc) CC=gcc meson setup "$dir" --werror >/dev/null ;;
	clang-asan) CC=clang meson setup "$dir" --werror -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fno-sanitize-recover=all >/dev/null ;;
	*) echo "build.sh: unknown kind $kind" >&2; exit 2 ;;
	esac
fi
ninja -C "$dir"
