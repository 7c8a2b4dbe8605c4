#!/usr/bin/env bash
# Restores a backup that backup.sh made (docs/deploy.md "Backups and restores"):
#   restore.sh list                    the backups in BACKUP_TARGET, oldest first
#   restore.sh fetch [STAMP|latest]    copy one into RESTORE_DIR and verify its SHA256SUMS
#   restore.sh mysql [DATABASE...]     load the fetched dumps (default: all of them) into MYSQL_HOST;
#                                      each dump recreates its database's tables, replacing what is there
#   restore.sh mongo                   mongorestore --drop of the fetched archive into MONGO_URI_FILE's server
# Same environment as backup.sh (BACKUP_TARGET, S3_ENDPOINT_URL, MYSQL_*, MONGO_URI_FILE), plus
# RESTORE_DIR (default /restore).
set -euo pipefail

RESTORE_DIR=${RESTORE_DIR:-/restore}
STAMP_PATTERN='^[0-9]{8}T[0-9]{6}Z$'

log() { printf '%s restore: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
is_s3() { [[ ${BACKUP_TARGET:?} == s3://* ]]; }
aws_s3() { aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} s3 "$@"; }

list_backups() {
    if is_s3; then
        aws_s3 ls "$BACKUP_TARGET/" | awk '$1 == "PRE" { sub("/$", "", $2); print $2 }'
    else
        ls -1 "$BACKUP_TARGET"
    fi | grep -E "$STAMP_PATTERN" | sort || true
}

fetch() {
    local stamp=${1:-latest}
    [[ $stamp != latest ]] || stamp=$(list_backups | tail -n 1)
    [[ $stamp =~ $STAMP_PATTERN ]] || { echo "no such backup: '$stamp'" >&2; exit 1; }
    mkdir -p "$RESTORE_DIR"
    rm -f -- "$RESTORE_DIR"/mysql-*.sql.gz "$RESTORE_DIR"/mongo.archive.gz "$RESTORE_DIR"/SHA256SUMS
    log "fetch $stamp"
    if is_s3; then
        aws_s3 cp --recursive --only-show-errors "$BACKUP_TARGET/$stamp/" "$RESTORE_DIR/"
    else
        cp -- "$BACKUP_TARGET/$stamp"/* "$RESTORE_DIR/"
    fi
    (cd "$RESTORE_DIR" && sha256sum --check --quiet SHA256SUMS)
}

mysql_phase() {
    MYSQL_PWD=$(cat "${MYSQL_PASSWORD_FILE:?}")
    export MYSQL_PWD
    local conn=(-h "${MYSQL_HOST:?}" -P "${MYSQL_PORT:-3306}" -u "${MYSQL_USER:-root}")
    local dumps=()
    if [[ $# -gt 0 ]]; then
        for db in "$@"; do dumps+=("$RESTORE_DIR/mysql-$db.sql.gz"); done
    else
        dumps=("$RESTORE_DIR"/mysql-*.sql.gz)
    fi
    for dump in "${dumps[@]}"; do
        [[ -f $dump ]] || { echo "no dump $dump (fetch first)" >&2; exit 1; }
        log "load $(basename "$dump")"
        gzip -dc "$dump" | mysql "${conn[@]}"
    done
}

mongo_phase() {
    local config
    config=$(mktemp)
    trap 'rm -f "$config"' RETURN
    printf 'uri: "%s"\n' "$(cat "${MONGO_URI_FILE:?}")" >"$config"
    log "mongorestore"
    mongorestore --config "$config" --gzip --archive="$RESTORE_DIR/mongo.archive.gz" --drop --quiet
}

[[ $# -gt 0 ]] || { echo "usage: restore.sh list | fetch [STAMP|latest] | mysql [DB...] | mongo" >&2; exit 2; }
command=$1
shift
case $command in
    list) list_backups ;;
    fetch) fetch "$@" ;;
    mysql) mysql_phase "$@" ;;
    mongo) mongo_phase ;;
    *) echo "unknown command: $command" >&2; exit 2 ;;
esac
