#!/usr/bin/env bash
# Runs the system test's stages in order inside the booted container. The
# set-up stages (10, 20) always run; SYSTEST_ONLY=NAME[,NAME] picks others.
set -euo pipefail
cd "$(dirname "$0")"
source ./lib.sh
for stage in [0-9][0-9]-*.sh; do
	name=${stage%.sh}
	if [[ -n ${SYSTEST_ONLY:-} && $name != 10-* && $name != 20-* &&
		,$SYSTEST_ONLY, != *",$name,"* ]]; then
		continue
	fi
	echo "system-test: --- $name"
	source "./$stage"
done
echo "system-test: $passed passed, 0 failed"
