#!/bin/sh
# publish-snapshot.sh REPO_DIR: on the server (cron or a systemd timer),
# refresh observed/snapshot.json in a checkout of the config repository and
# push it when it changed, so CI plans against what the server really runs.
# The snapshot holds no secrets (containers' environments are not read).
set -eu
repo=$1
bg=${BLUEGREEN:-bluegreen}
cd "$repo"
git pull --ff-only --quiet
mkdir -p observed
"$bg" -c "$repo" observe > observed/snapshot.json.new
mv observed/snapshot.json.new observed/snapshot.json
if ! git diff --quiet -- observed/snapshot.json; then
	git add observed/snapshot.json
	git commit --quiet -m "observed: snapshot from $(hostname)"
	git push --quiet
fi
