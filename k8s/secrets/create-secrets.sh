#!/usr/bin/env bash
# Creates or updates the Kubernetes Secrets of k8s/secrets/secrets.example.yaml from the files that
# infrastructure/docker/secrets/generate-dev-secrets.sh writes (or any directory with the same names),
# so compose and Kubernetes share one set of credentials and one way to make them.
#   k8s/secrets/create-secrets.sh [SECRETS_DIR] [NAMESPACE]
# Idempotent (create --dry-run | apply). Uses the current kubectl context: check it first.
set -euo pipefail

dir=${1:-$(dirname "$0")/../../infrastructure/docker/secrets}
ns=${2:-bigtech-chat}
# The object store: S3_ENDPOINT_URL (empty for AWS S3 itself), S3_PUBLIC_URL, S3_REGION and S3_BUCKET from the
# environment, the key from s3_access_key_id / s3_secret_access_key in the secrets directory.
s3_endpoint=${S3_ENDPOINT_URL-http://minio:9000}
s3_public=${S3_PUBLIC_URL:-$s3_endpoint}
s3_region=${S3_REGION:-us-east-1}
s3_bucket=${S3_BUCKET:-bigtech-chat}

for f in mysql_root_password user_database_url friend_database_url chat_database_url notification_database_url \
         user_redis_url friend_redis_url chat_redis_url notification_redis_url redis_password mongo_root_password \
         chat_mongo_url jwt_private_key.pem vapid_private_key.pem s3_access_key_id s3_secret_access_key; do
    [[ -s "$dir/$f" ]] || { echo "missing $dir/$f (run generate-dev-secrets.sh)" >&2; exit 1; }
done

kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"

apply() {  # apply NAME --from-file=key=path ...
    local name=$1; shift
    kubectl -n "$ns" create secret generic "$name" "$@" --dry-run=client -o yaml | kubectl apply -f -
}

s3=(
    --from-literal=s3_endpoint_url="$s3_endpoint"
    --from-literal=s3_public_url="$s3_public"
    --from-literal=s3_region="$s3_region"
    --from-literal=s3_bucket="$s3_bucket"
    --from-file=s3_access_key_id="$dir/s3_access_key_id"
    --from-file=s3_secret_access_key="$dir/s3_secret_access_key"
)

apply user-service-secrets \
    --from-file=database_url="$dir/user_database_url" \
    --from-file=redis_url="$dir/user_redis_url" \
    --from-file=jwt_private_key="$dir/jwt_private_key.pem" \
    "${s3[@]}"
apply friend-service-secrets \
    --from-file=database_url="$dir/friend_database_url" \
    --from-file=redis_url="$dir/friend_redis_url"
apply chat-service-secrets \
    --from-file=database_url="$dir/chat_database_url" \
    --from-file=redis_url="$dir/chat_redis_url" \
    --from-file=mongo_url="$dir/chat_mongo_url" \
    "${s3[@]}"
# SMTP: the cluster's relay, from the environment (SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD,
# SMTP_SECURITY=starttls|tls|none); unset, the mails go to a Mailpit at mailpit:1025.
apply notification-service-secrets \
    --from-file=database_url="$dir/notification_database_url" \
    --from-file=redis_url="$dir/notification_redis_url" \
    --from-file=vapid_private_key.pem="$dir/vapid_private_key.pem" \
    --from-literal=smtp_host="${SMTP_HOST:-mailpit}" \
    --from-literal=smtp_port="${SMTP_PORT:-1025}" \
    --from-literal=smtp_security="${SMTP_SECURITY:-none}" \
    ${SMTP_USERNAME:+--from-literal=smtp_username="$SMTP_USERNAME"} \
    ${SMTP_PASSWORD:+--from-literal=smtp_password="$SMTP_PASSWORD"}
apply mysql-secrets \
    --from-file=mysql_root_password="$dir/mysql_root_password" \
    --from-file=user_database_url="$dir/user_database_url" \
    --from-file=friend_database_url="$dir/friend_database_url" \
    --from-file=chat_database_url="$dir/chat_database_url" \
    --from-file=notification_database_url="$dir/notification_database_url"
apply mongodb-secrets \
    --from-file=mongo_root_password="$dir/mongo_root_password" \
    --from-file=chat_mongo_url="$dir/chat_mongo_url"
apply redis-secrets \
    --from-file=redis_password="$dir/redis_password"
