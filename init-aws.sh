#!/usr/bin/env bash
# Creates the app's data layer in LocalStack. Runs as a ready.d hook on every `make up` (host and
# Docker mode) and by hand (`./init-aws.sh` with awslocal on PATH). Idempotent: a second run
# changes nothing and succeeds. Names (env var = default) the app builds on:
#   USERS_TABLE=users              key user_id (S); GSI email-index on email (S);
#                                  stream NEW_AND_OLD_IMAGES (users-stream consumer)
#   ORDERS_TABLE=orders            key order_id (S)
#   IDEMPOTENCY_TABLE=idempotency  key id (S); TTL on expiration (powertools' defaults)
#   INVENTORY_TABLE=inventory      key sku (S); seeded: SKU-1 stock 100, SKU-2 stock 25, SKU-OUT stock 0
#   IMAGES_BUCKET=images-bucket    uploads -> thumbnails
#   ARCHIVE_BUCKET=stream-archive-bucket   Kinesis consumer's archive
#   ORDERS_QUEUE=orders-queue      VisibilityTimeout 10 (>= the consumer's Timeout in template.yaml),
#                                  redrive to ORDERS_DLQ after 3 receives
#   ORDERS_DLQ=orders-dlq          retention 14 days
#   SES_SENDER=orders@example.com  verified SES identity
#   EVENTS_STREAM=events-stream    Kinesis, 1 shard
# All tables are PAY_PER_REQUEST. Independent resources are created in parallel (each awslocal
# call is a Python start-up of ~0.5 s), so this stays quick on a 2-core machine.
set -euo pipefail
# command substitutions fail like the rest (bash >= 4.4; the explicit `|| return 1` below
# keeps older shells, e.g. macOS bash 3.2, from carrying on after an error)
shopt -s inherit_errexit 2>/dev/null || true

USERS_TABLE="${USERS_TABLE:-users}"
ORDERS_TABLE="${ORDERS_TABLE:-orders}"
IDEMPOTENCY_TABLE="${IDEMPOTENCY_TABLE:-idempotency}"
INVENTORY_TABLE="${INVENTORY_TABLE:-inventory}"
IMAGES_BUCKET="${IMAGES_BUCKET:-images-bucket}"
ARCHIVE_BUCKET="${ARCHIVE_BUCKET:-stream-archive-bucket}"
ORDERS_QUEUE="${ORDERS_QUEUE:-orders-queue}"
ORDERS_DLQ="${ORDERS_DLQ:-orders-dlq}"
SES_SENDER="${SES_SENDER:-orders@example.com}"
EVENTS_STREAM="${EVENTS_STREAM:-events-stream}"
# AWS refuses an SQS event source whose function timeout exceeds the queue's visibility timeout:
# ProcessOrderQueueFunction's Timeout (template.yaml) must stay <= this. Short, so a failing
# message is received again (and reaches the DLQ after 3 receives) within about 30 s.
ORDERS_QUEUE_VISIBILITY_TIMEOUT=10
ORDERS_MAX_RECEIVE_COUNT=3

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export DISABLE_DEPRECATION_NOTICE=1
export AWS_PAGER=""

log() { echo "[init-aws] $*" >&2; }

command -v awslocal >/dev/null || { log "awslocal not found on PATH (pip install awscli-local)"; exit 1; }

# aws_ok ERROR_CODE... -- CMD...: run awslocal CMD and print "created"; an error whose code is
# one of ERROR_CODE (a create call's "already exists" answer) prints "exists" instead. Anything
# else fails with the CLI's message on stderr.
aws_ok() {
    local codes=()
    while [[ "$1" != "--" ]]; do codes+=("$1"); shift; done
    shift
    local err
    if err=$(awslocal "$@" --output json 2>&1 >/dev/null); then
        echo created
        return 0
    fi
    local code
    for code in ${codes[@]+"${codes[@]}"}; do
        if [[ "$err" == *"($code)"* ]]; then
            echo exists
            return 0
        fi
    done
    log "FAILED: awslocal $*"
    echo "$err" >&2
    return 1
}

create_table() {  # name, then create-table arguments; prints created|exists
    local name="$1"; shift
    local state
    state=$(aws_ok ResourceInUseException -- dynamodb create-table --table-name "$name" \
        --billing-mode PAY_PER_REQUEST "$@") || return 1
    log "table $name: $state"
    echo "$state"
}

users_table() {
    create_table "$USERS_TABLE" \
        --attribute-definitions AttributeName=user_id,AttributeType=S AttributeName=email,AttributeType=S \
        --key-schema AttributeName=user_id,KeyType=HASH \
        --global-secondary-indexes 'IndexName=email-index,KeySchema=[{AttributeName=email,KeyType=HASH}],Projection={ProjectionType=ALL}' \
        --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES >/dev/null
}

orders_table() {
    create_table "$ORDERS_TABLE" \
        --attribute-definitions AttributeName=order_id,AttributeType=S \
        --key-schema AttributeName=order_id,KeyType=HASH >/dev/null
}

idempotency_table() {
    local state status=""
    state=$(create_table "$IDEMPOTENCY_TABLE" \
        --attribute-definitions AttributeName=id,AttributeType=S \
        --key-schema AttributeName=id,KeyType=HASH) || return 1
    # enabling TTL twice is an error on AWS: an existing table is asked first
    if [[ "$state" == exists ]]; then
        status=$(awslocal dynamodb describe-time-to-live --table-name "$IDEMPOTENCY_TABLE" \
            --query 'TimeToLiveDescription.TimeToLiveStatus' --output text) || return 1
    fi
    if [[ "$status" != ENABLED && "$status" != ENABLING ]]; then
        aws_ok -- dynamodb update-time-to-live --table-name "$IDEMPOTENCY_TABLE" \
            --time-to-live-specification Enabled=true,AttributeName=expiration >/dev/null
    fi
    log "TTL on $IDEMPOTENCY_TABLE.expiration: ENABLED"
}

SEED_ITEMS=(
    '{"sku": {"S": "SKU-1"}, "stock": {"N": "100"}, "name": {"S": "Widget"}}'
    '{"sku": {"S": "SKU-2"}, "stock": {"N": "25"}, "name": {"S": "Gadget"}}'
    '{"sku": {"S": "SKU-OUT"}, "stock": {"N": "0"}, "name": {"S": "Sold-out item"}}'
)

inventory_table() {
    local state
    state=$(create_table "$INVENTORY_TABLE" \
        --attribute-definitions AttributeName=sku,AttributeType=S \
        --key-schema AttributeName=sku,KeyType=HASH) || return 1
    if [[ "$state" == created ]]; then
        # a new table is empty: one batch write
        local requests="" item
        for item in "${SEED_ITEMS[@]}"; do
            requests+="${requests:+,}{\"PutRequest\": {\"Item\": $item}}"
        done
        aws_ok -- dynamodb batch-write-item \
            --request-items "{\"$INVENTORY_TABLE\": [$requests]}" >/dev/null
    else
        # an existing table keeps its live stock: only missing items are added
        local pids=() pid item
        for item in "${SEED_ITEMS[@]}"; do
            aws_ok ConditionalCheckFailedException -- dynamodb put-item \
                --table-name "$INVENTORY_TABLE" --item "$item" \
                --condition-expression 'attribute_not_exists(sku)' >/dev/null &
            pids+=("$!")
        done
        for pid in "${pids[@]}"; do wait "$pid"; done
    fi
    log "inventory seeded"
}

bucket() {
    local state
    aws_ok BucketAlreadyOwnedByYou -- s3api create-bucket --bucket "$1" >/dev/null
    log "bucket $1: ok"  # us-east-1 answers 200 for a bucket you already own
}

# sqs_queue NAME ATTRIBUTES_JSON: prints the queue URL. create-queue returns an existing queue
# only when its attributes are the same; a queue left with other values (an older version of
# this script) is brought to these instead, so every run converges on the same state.
sqs_queue() {
    local name="$1" attributes="$2" url err errfile
    errfile=$(mktemp) || return 1
    if url=$(awslocal sqs create-queue --queue-name "$name" --attributes "$attributes" \
        --query QueueUrl --output text 2>"$errfile"); then
        rm -f "$errfile"
        log "queue $name: ok"
        echo "$url"
        return 0
    fi
    err=$(<"$errfile")
    rm -f "$errfile"
    if [[ "$err" != *"(QueueAlreadyExists)"* && "$err" != *"(QueueNameExists)"* ]]; then
        log "FAILED: awslocal sqs create-queue --queue-name $name"
        echo "$err" >&2
        return 1
    fi
    url=$(awslocal sqs get-queue-url --queue-name "$name" --query QueueUrl --output text) \
        || return 1
    awslocal sqs set-queue-attributes --queue-url "$url" --attributes "$attributes" || return 1
    log "queue $name: existing queue updated to $attributes"
    echo "$url"
}

queues() {
    local dlq_url
    dlq_url=$(sqs_queue "$ORDERS_DLQ" '{"MessageRetentionPeriod":"1209600"}') || return 1
    # a queue URL ends in <account>/<name>: the DLQ's ARN follows without another call
    local account="${dlq_url%/*}"
    account="${account##*/}"
    local dlq_arn="arn:aws:sqs:${AWS_DEFAULT_REGION}:${account}:${ORDERS_DLQ}"
    local attributes
    attributes=$(printf '{"VisibilityTimeout":"%s","RedrivePolicy":"{\\"deadLetterTargetArn\\":\\"%s\\",\\"maxReceiveCount\\":\\"%s\\"}"}' \
        "$ORDERS_QUEUE_VISIBILITY_TIMEOUT" "$dlq_arn" "$ORDERS_MAX_RECEIVE_COUNT")
    sqs_queue "$ORDERS_QUEUE" "$attributes" >/dev/null || return 1
    log "queue $ORDERS_QUEUE -> $ORDERS_DLQ ($dlq_arn) ok"
}

ses_sender() {
    aws_ok -- ses verify-email-identity --email-address "$SES_SENDER" >/dev/null
    log "SES sender $SES_SENDER verified"
}

events_stream() {
    local state
    state=$(aws_ok ResourceInUseException -- kinesis create-stream --stream-name "$EVENTS_STREAM" \
        --shard-count 1) || return 1
    log "stream $EVENTS_STREAM: $state"
}

log "creating resources in ${AWS_ENDPOINT_URL:-LocalStack}"
pids=()
for step in users_table orders_table idempotency_table inventory_table queues ses_sender \
    events_stream "bucket $IMAGES_BUCKET" "bucket $ARCHIVE_BUCKET"; do
    $step &
    pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
if [[ "$failed" != 0 ]]; then
    log "some resources could not be created (see above)"
    exit 1
fi
log "done"
