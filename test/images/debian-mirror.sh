#!/bin/sh
# debian-mirror.sh: print the host's Debian mirror for bookworm, for the
# test root filesystems built with mmdebstrap (test/images/ws/build-ws.sh,
# test/release/t-fresh.sh): deb822 sources first, then one-line sources,
# then the default.
set -eu
mirror=
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	mirror=$(awk '
		/^URIs:/ { u = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") s = 1 }
		/^$/ { if (u != "" && s) { print u; exit } u = ""; s = 0 }
		END { if (u != "" && s) print u }' "$f" | head -n 1)
	[ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
printf '%s\n' "${mirror:-http://deb.debian.org/debian}"
