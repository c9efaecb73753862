#!/usr/bin/env bash
# Create Filestore's buckets, queues and bucket notification in LocalStack, with the same layout
# as template.yaml: new objects under uploads/ in the incoming bucket send s3:ObjectCreated:*
# events to the filestore-scan SQS queue, whose dead-letter queue is filestore-scan-dlq.
#
# LocalStack runs this file itself when the folder localstack/init is mounted at
# /etc/localstack/init (ready.d hooks run once S3 and SQS are up). It also runs from a shell
# against any LocalStack endpoint:
#
#   AWS_ENDPOINT_URL=http://127.0.0.1:4566 localstack/init/ready.d/filestore.sh
#
# Every step is safe to repeat. Bucket and queue names follow the local stack's (.stack/env) and
# can be changed with INCOMING_BUCKET, STATUS_BUCKET, QUARANTINE_BUCKET, STORE_BUCKET,
# SCAN_QUEUE and SCAN_DLQ. ALLOWED_ORIGINS (comma-separated, default *) sets the CORS origins of
# the incoming bucket.
set -euo pipefail

region=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}
incoming=${INCOMING_BUCKET:-incoming}
status=${STATUS_BUCKET:-filestore-status}
quarantine=${QUARANTINE_BUCKET:-filestore-quarantine}
store=${STORE_BUCKET:-filestore-store}
scan_queue=${SCAN_QUEUE:-filestore-scan}
scan_dlq=${SCAN_DLQ:-filestore-scan-dlq}
allowed_origins=${ALLOWED_ORIGINS:-*}

log() {
    printf 'filestore-init: %s\n' "$*"
}

# awslocal (inside the LocalStack container, or pip install awscli-local) targets LocalStack
# by itself. Plain aws gets the endpoint and LocalStack's test credentials explicitly, and the
# explicit endpoint also overrides an AWS_ENDPOINT_URL_S3 that points at MinIO.
if command -v awslocal >/dev/null; then
    aws_cli=(awslocal --region "$region")
elif command -v aws >/dev/null; then
    endpoint=${AWS_ENDPOINT_URL:-http://localhost:4566}
    aws_cli=(env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
        aws --endpoint-url "$endpoint" --region "$region")
else
    printf 'filestore-init: error: neither awslocal nor aws is installed (pip install awscli-local awscli)\n' >&2
    exit 1
fi

aws_cmd() {
    "${aws_cli[@]}" "$@"
}

# Versioned, encrypted (SSE-S3) and private, like every bucket in template.yaml.
create_bucket() {
    local bucket=$1
    if aws_cmd s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
        log "bucket $bucket exists"
    else
        aws_cmd s3api create-bucket --bucket "$bucket" >/dev/null
        log "bucket $bucket created"
    fi
    aws_cmd s3api put-bucket-versioning --bucket "$bucket" \
        --versioning-configuration Status=Enabled
    aws_cmd s3api put-bucket-encryption --bucket "$bucket" \
        --server-side-encryption-configuration \
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
    aws_cmd s3api put-public-access-block --bucket "$bucket" \
        --public-access-block-configuration \
        BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
}

# Prints a JSON array of strings from a comma-separated list.
json_list() {
    local item out="" IFS=,
    for item in $1; do
        out+="${out:+,}\"$item\""
    done
    printf '[%s]' "$out"
}

configure_incoming() {
    aws_cmd s3api put-bucket-cors --bucket "$incoming" --cors-configuration "{
        \"CORSRules\": [{
            \"AllowedMethods\": [\"PUT\", \"POST\"],
            \"AllowedOrigins\": $(json_list "$allowed_origins"),
            \"AllowedHeaders\": [\"content-type\", \"x-amz-*\"],
            \"ExposeHeaders\": [\"ETag\"],
            \"MaxAgeSeconds\": 600
        }]}"
    aws_cmd s3api put-bucket-lifecycle-configuration --bucket "$incoming" \
        --lifecycle-configuration '{
        "Rules": [
            {"ID": "abort-incomplete-multipart-uploads", "Status": "Enabled",
             "Filter": {"Prefix": ""},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
            {"ID": "expire-noncurrent-versions", "Status": "Enabled",
             "Filter": {"Prefix": ""},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 7}},
            {"ID": "expire-staged-uploads", "Status": "Enabled",
             "Filter": {"Prefix": ""},
             "Expiration": {"Days": 7}}
        ]}' >/dev/null
    log "bucket $incoming: CORS for $allowed_origins, lifecycle rules set"
}

queue_url() {
    aws_cmd sqs get-queue-url --queue-name "$1" --query QueueUrl --output text
}

queue_arn() {
    aws_cmd sqs get-queue-attributes --queue-url "$1" --attribute-names QueueArn \
        --query Attributes.QueueArn --output text
}

# The visibility timeout is shorter than template.yaml's 5400 s, so a failed local scan comes
# back within five minutes.
create_queues() {
    aws_cmd sqs create-queue --queue-name "$scan_dlq" \
        --attributes MessageRetentionPeriod=1209600 >/dev/null
    dlq_arn=$(queue_arn "$(queue_url "$scan_dlq")")
    aws_cmd sqs create-queue --queue-name "$scan_queue" --attributes "{
        \"VisibilityTimeout\": \"300\",
        \"MessageRetentionPeriod\": \"345600\",
        \"RedrivePolicy\": \"{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"5\\\"}\"
        }" >/dev/null
    scan_url=$(queue_url "$scan_queue")
    scan_arn=$(queue_arn "$scan_url")
    local policy
    policy=$(printf '{"Version":"2012-10-17","Statement":[{"Sid":"AllowIncomingBucketEvents","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"%s","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::%s"}}}]}' \
        "$scan_arn" "$incoming")
    aws_cmd sqs set-queue-attributes --queue-url "$scan_url" \
        --attributes "{\"Policy\": $(printf '%s' "$policy" | sed 's/"/\\"/g; s/^/"/; s/$/"/')}"
    log "queue $scan_queue ($scan_arn) with dead-letter queue $scan_dlq"
}

configure_notification() {
    aws_cmd s3api put-bucket-notification-configuration --bucket "$incoming" \
        --notification-configuration "{
        \"QueueConfigurations\": [{
            \"Id\": \"filestore-scan\",
            \"QueueArn\": \"$scan_arn\",
            \"Events\": [\"s3:ObjectCreated:*\"],
            \"Filter\": {\"Key\": {\"FilterRules\": [{\"Name\": \"prefix\", \"Value\": \"uploads/\"}]}}
        }]}"
    log "bucket $incoming: s3:ObjectCreated:* under uploads/ goes to $scan_queue"
}

for bucket in "$incoming" "$status" "$quarantine" "$store"; do
    create_bucket "$bucket"
done
configure_incoming
create_queues
configure_notification
log "done"
