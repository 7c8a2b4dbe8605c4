#!/usr/bin/env bash
# Creates every secret file the compose stacks mount, with fresh random values, in this directory.
# Existing files are kept (so re-running never locks a service out of a database initialised with the
# old password); pass --force to replace them all, then remove the database volumes too.
set -euo pipefail
cd "$(dirname "$0")"

force=false
[[ "${1:-}" == "--force" ]] && force=true
umask 077

# hex only: safe inside URLs, my.cnf and shell without any quoting or percent-encoding
rand() { openssl rand -hex 24; }

write() {  # write NAME VALUE
    if [[ -e "$1" && $force == false ]]; then echo "keep    $1"; return; fi
    printf '%s' "$2" > "$1"
    echo "created $1"
}

# Passwords are generated once and reused by every file that embeds them.
pw_of() {  # the password already inside an existing URL file, or a new one
    local file=$1 pattern=$2
    if [[ -e "$file" && $force == false ]]; then sed -nE "s|$pattern|\1|p" "$file"; else rand; fi
}

mysql_user_pw=$(pw_of user_database_url '.*://user_svc:([^@]*)@.*')
mysql_friend_pw=$(pw_of friend_database_url '.*://friend_svc:([^@]*)@.*')
mysql_chat_pw=$(pw_of chat_database_url '.*://chat_svc:([^@]*)@.*')
mysql_notification_pw=$(pw_of notification_database_url '.*://notification_svc:([^@]*)@.*')
redis_pw=$( [[ -e redis_password && $force == false ]] && cat redis_password || rand )
mongo_chat_pw=$(pw_of chat_mongo_url '.*://chat_svc:([^@]*)@.*')
exporter_pw=$(pw_of mysqld_exporter.cnf '^password=(.*)$')
mongo_exporter_pw=$(pw_of mongodb_exporter_uri '.*://exporter:([^@]*)@.*')

write mysql_root_password "$(rand)"
write user_database_url "mysql+aiomysql://user_svc:${mysql_user_pw}@mysql:3306/user_db"
write friend_database_url "mysql+aiomysql://friend_svc:${mysql_friend_pw}@mysql:3306/friend_db"
write chat_database_url "mysql+aiomysql://chat_svc:${mysql_chat_pw}@mysql:3306/chat_db"
write notification_database_url "mysql+aiomysql://notification_svc:${mysql_notification_pw}@mysql:3306/notification_db"
write mysqld_exporter.cnf "$(printf '[client]\nuser=exporter\npassword=%s\nhost=mysql\nport=3306\n' "$exporter_pw")"
write redis_password "$redis_pw"
write user_redis_url "redis://:${redis_pw}@redis:6379/0"
write friend_redis_url "redis://:${redis_pw}@redis:6379/2"
write chat_redis_url "redis://:${redis_pw}@redis:6379/1"
write notification_redis_url "redis://:${redis_pw}@redis:6379/3"
write mongo_root_password "$(rand)"
write chat_mongo_url "mongodb://chat_svc:${mongo_chat_pw}@mongodb:27017/chat?authSource=chat"
write mongodb_exporter_uri "mongodb://exporter:${mongo_exporter_pw}@mongodb:27017/admin"
write grafana_admin_password "$(rand)"
# The object store: MinIO's root account (used only by the bucket-creating job) and the services' own key.
write minio_root_user "root-$(openssl rand -hex 4)"
write minio_root_password "$(rand)"
write s3_access_key_id "chat-$(openssl rand -hex 8)"
write s3_secret_access_key "$(rand)"

# The backup job's S3 credentials (AWS CLI format) are the store's, not ours to invent: an empty profile
# until you fill it in; the default backup target, a local volume, needs none.
[[ -e backup_s3_credentials ]] || printf '[default]\n' >backup_s3_credentials
# Alertmanager's Slack-compatible webhooks: a URL that resolves nowhere until you put the real ones here
# (alerts stay visible in Alertmanager's UI and Grafana meanwhile).
for severity in critical warning; do
    [[ -e alert_webhook_url_$severity ]] || printf 'https://alert-webhook.invalid/%s' "$severity" >"alert_webhook_url_$severity"
done

if [[ ! -e jwt_private_key.pem || $force == true ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt_private_key.pem 2>/dev/null
    echo "created jwt_private_key.pem"
else
    echo "keep    jwt_private_key.pem"
fi
# The VAPID key pair of Web Push (P-256): browsers subscribe with its public half, so replacing it
# invalidates every subscription.
if [[ ! -e vapid_private_key.pem || $force == true ]]; then
    openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out vapid_private_key.pem
    echo "created vapid_private_key.pem"
else
    echo "keep    vapid_private_key.pem"
fi
# Containers run as non-root uids that differ per image; compose bind-mounts these files as they are,
# so they must be readable by others on this host. Keep the directory itself private to your user.
chmod 0644 -- *_url *_password *.cnf jwt_private_key.pem vapid_private_key.pem backup_s3_credentials \
    alert_webhook_url_* minio_root_user s3_access_key_id s3_secret_access_key
chmod 0700 .
