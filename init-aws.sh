#!/usr/bin/env bash
# Creates the app's data layer in LocalStack, as functions/common/data_layer.json specifies it
# (tables with their keys, GSI, stream and TTL; the seeded inventory; buckets; the orders queue
# and its DLQ; the Kinesis stream; the SES sender). Every name can be overridden by the env var
# the spec gives it (USERS_TABLE, ORDERS_QUEUE, ...).
#
# Runs as a ready.d hook on every `make up` (host and Docker mode) and by hand (`./init-aws.sh`
# with a Python that has boto3 on PATH). Idempotent: a second run changes nothing and succeeds.
# The work is one Python process (scripts/data_layer.py apply): each awslocal call used to cost
# a Python start-up of ~0.5 CPU-s.
set -euo pipefail

# The python that comes first on PATH: LocalStack's venv (host mode puts .localstack/venv/bin
# first; the Docker image puts its venv first), or the project's .venv when run by hand/tests.
# DATA_LAYER_PYTHON picks another one.
python="${DATA_LAYER_PYTHON:-$(command -v python3 || command -v python || true)}"
[[ -n "$python" ]] || { echo "[init-aws] no python3 on PATH" >&2; exit 1; }

# Next to this script in a checkout (host mode runs it from the project); in Docker only this
# script is in ready.d, and docker-compose.yml mounts scripts/ and the spec under /opt/app.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here"
[[ -f "$root/scripts/data_layer.py" ]] || root=/opt/app

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"

exec "$python" "$root/scripts/data_layer.py" apply --spec "$root/functions/common/data_layer.json"
