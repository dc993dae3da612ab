#!/usr/bin/env bash
# Starts tentacle-ingest on its embedded defaults for a newcomer: makes sure MariaDB answers
# on 127.0.0.1:3306 (installing and starting it when missing), runs `tentacle-ingest serve`
# (Tentacle on 41121, spool ./data_in, database `pandora`, created if missing), and on exit
# stops only what this script started. Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
export SERVICES_STATE_DIR=${SERVICES_STATE_DIR:-/tmp/tentacle-ingest-dev-services}
bash scripts/services.sh mariadb
trap 'bash scripts/services.sh stop' EXIT
node --max-old-space-size=256 --max-semi-space-size=16 --min-semi-space-size=16 --import tsx src/main.ts serve "$@"
