#!/bin/sh
# t-fault-option.sh: the BLUEGREEN_FAULT kill points of apply exist only in
# a build configured with -Dfault_injection=true (CI's sanitizer build, where
# t-apply and t-crash use them). Every other build, the default and so every
# shipped binary, has no trace of them: neither the variable's name nor the
# kill points' names are in the binary, so nothing can read the variable.
# Environment: BG_BINARY, BG_FAULT_INJECTION (1 or 0, from meson's option).
set -u
bin=${BG_BINARY:?BG_BINARY is not set}
case ${BG_FAULT_INJECTION:-} in
1 | 0) ;;
*) echo "FAIL: BG_FAULT_INJECTION is '${BG_FAULT_INJECTION:-}', not 1 or 0 (test/meson.build sets it)"; exit 1 ;;
esac
failed=0
for s in BLUEGREEN_FAULT kill-before kill-during kill-after; do
	n=$(grep -a -c -- "$s" "$bin")
	if [ "$BG_FAULT_INJECTION" = 1 ] && [ "$n" -eq 0 ]; then
		echo "not ok: -Dfault_injection=true, but '$s' is not in $bin"
		failed=1
	elif [ "$BG_FAULT_INJECTION" = 0 ] && [ "$n" -ne 0 ]; then
		echo "not ok: built without fault injection, but '$s' is in $bin"
		failed=1
	else
		echo "ok: '$s' $([ "$n" -eq 0 ] && echo absent || echo present) (fault_injection=$BG_FAULT_INJECTION)"
	fi
done
exit "$failed"
