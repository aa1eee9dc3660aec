#!/bin/sh
# ci-plan.sh [CONFIG_DIR]: what CI runs on every change of a bluegreen config
# repository. Validates the configuration (every error named file:line:col)
# and prints the plan against the snapshot the server published in
# observed/snapshot.json, so reviewers read exactly what merging would do.
# Nothing here reaches a server or changes anything.
#
# Exit 0 when the configuration is valid and a plan was printed (with or
# without changes), 1 otherwise. BLUEGREEN names the binary (default:
# `bluegreen` in PATH).
set -u
dir=${1:-.}
bg=${BLUEGREEN:-bluegreen}
"$bg" -c "$dir" validate || exit 1
"$bg" -c "$dir" plan --observed "$dir/observed/snapshot.json"
rc=$?
case $rc in
0) echo "ci-plan: nothing to do" ;;
2) echo "ci-plan: changes pending; once merged, approve the token above on the server" ;;
*) echo "ci-plan: plan failed (exit $rc)"; exit 1 ;;
esac
exit 0
