#!/usr/bin/env bash
# Backs up the MySQL databases and MongoDB to an S3-compatible store (or a directory), keeping
# RETENTION_DAYS days. One script for the compose `backup` profile and the Kubernetes CronJob
# (k8s/components/backup); each phase runs in the image that has its tool, sharing BACKUP_DIR:
#   backup.sh clean mysql      # mysql image: empty BACKUP_DIR, one mysqldump per database
#   backup.sh mongo            # mongo image: mongodump of MONGO_URI_FILE's database
#   backup.sh upload prune     # aws-cli image: SHA256SUMS, copy to BACKUP_TARGET/<stamp>/, retention
# Environment:
#   BACKUP_DIR           staging directory of this run (default /backup)
#   BACKUP_TARGET        s3://bucket/prefix, or a local directory
#   S3_ENDPOINT_URL      endpoint of a non-AWS S3 store (MinIO, R2, ...); credentials as the AWS CLI reads
#                        them (AWS_SHARED_CREDENTIALS_FILE, IRSA, ...)
#   RETENTION_DAYS       backups older than this are deleted; the newest one never is (default 14)
#   MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASSWORD_FILE   the server and an account that may read it all
#   MYSQL_DATABASES      space-separated; default every database except the server's own schemas
#   MONGO_URI_FILE       file holding the MongoDB URI (its database is what is dumped)
#   BACKUP_NOW           the time in epoch seconds (default: now); names the backup and drives retention
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-/backup}
RETENTION_DAYS=${RETENTION_DAYS:-14}
now=${BACKUP_NOW:-$(date -u +%s)}
# Backups are folders named by their UTC time, so names sort in time order.
STAMP_PATTERN='^[0-9]{8}T[0-9]{6}Z$'

log() { printf '%s backup: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
stamp_of() { date -u -d "@$1" +%Y%m%dT%H%M%SZ; }
is_s3() { [[ $BACKUP_TARGET == s3://* ]]; }
aws_s3() { aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} s3 "$@"; }

# Plain bash and coreutils only: the mysql, mongo and aws-cli images share little else.
clean() {
    mkdir -p "$BACKUP_DIR"
    local entries
    shopt -s nullglob dotglob
    entries=("$BACKUP_DIR"/*)
    shopt -u nullglob dotglob
    if ((${#entries[@]})); then rm -rf -- "${entries[@]}"; fi
}

mysql_phase() {
    # The password travels in the environment, never on a command line (`ps` shows those).
    MYSQL_PWD=$(cat "${MYSQL_PASSWORD_FILE:?}")
    export MYSQL_PWD
    local conn=(-h "${MYSQL_HOST:?}" -P "${MYSQL_PORT:-3306}" -u "${MYSQL_USER:-root}")
    local databases=${MYSQL_DATABASES:-}
    if [[ -z $databases ]]; then
        databases=$(mysql "${conn[@]}" -N -B -e 'SHOW DATABASES' |
            grep -vxE 'information_schema|performance_schema|mysql|sys' || true)
    fi
    # A consistent snapshot per database without locking writers (InnoDB), everything needed to
    # recreate it (routines, triggers, events), binary columns as hex, no date in the file so two dumps
    # of the same data are byte-for-byte equal. MySQL's mysqldump also writes GTID state, which a restore
    # into another server must not replay.
    local options=(--single-transaction --routines --triggers --events --hex-blob --no-tablespaces
        --skip-dump-date --databases)
    if mysqldump --help 2>/dev/null | grep -q -- '--set-gtid-purged'; then
        options=(--set-gtid-purged=OFF "${options[@]}")
    fi
    mkdir -p "$BACKUP_DIR"
    for db in $databases; do
        log "mysqldump $db"
        mysqldump "${conn[@]}" "${options[@]}" "$db" | gzip -n >"$BACKUP_DIR/mysql-$db.sql.gz.partial"
        mv "$BACKUP_DIR/mysql-$db.sql.gz.partial" "$BACKUP_DIR/mysql-$db.sql.gz"
    done
}

mongo_phase() {
    # The URI (with its password) goes through a config file, not the command line.
    local config
    config=$(mktemp)
    trap 'rm -f "$config"' RETURN
    printf 'uri: "%s"\n' "$(cat "${MONGO_URI_FILE:?}")" >"$config"
    mkdir -p "$BACKUP_DIR"
    log "mongodump"
    mongodump --config "$config" --gzip --archive="$BACKUP_DIR/mongo.archive.gz.partial" --quiet
    mv "$BACKUP_DIR/mongo.archive.gz.partial" "$BACKUP_DIR/mongo.archive.gz"
}

upload() {
    local stamp path files=()
    stamp=$(stamp_of "$now")
    for path in "$BACKUP_DIR"/mysql-*.sql.gz "$BACKUP_DIR"/mongo.archive.gz; do
        if [[ -f $path ]]; then files+=("$(basename "$path")"); fi
    done
    ((${#files[@]})) || { log "nothing to upload in $BACKUP_DIR"; exit 1; }
    (cd "$BACKUP_DIR" && sha256sum -- "${files[@]}" >SHA256SUMS)
    log "upload $stamp to ${BACKUP_TARGET:?}"
    if is_s3; then
        aws_s3 cp --recursive --only-show-errors --exclude '*.partial' "$BACKUP_DIR/" "$BACKUP_TARGET/$stamp/"
    else
        # Copied under a temporary name and renamed: a half-written backup never looks complete.
        mkdir -p "$BACKUP_TARGET/.$stamp.partial"
        (cd "$BACKUP_DIR" && cp -- "${files[@]}" SHA256SUMS "$BACKUP_TARGET/.$stamp.partial/")
        mv "$BACKUP_TARGET/.$stamp.partial" "$BACKUP_TARGET/$stamp"
    fi
}

list_backups() {
    if is_s3; then
        aws_s3 ls "$BACKUP_TARGET/" | awk '$1 == "PRE" { sub("/$", "", $2); print $2 }'
    else
        ls -1 "$BACKUP_TARGET"
    fi | grep -E "$STAMP_PATTERN" | sort || true
}

prune() {
    local cutoff newest
    cutoff=$(stamp_of $((now - RETENTION_DAYS * 86400)))
    newest=$(list_backups | tail -n 1)
    for stamp in $(list_backups); do
        if [[ $stamp < $cutoff && $stamp != "$newest" ]]; then
            log "delete $stamp (older than $RETENTION_DAYS days)"
            if is_s3; then
                aws_s3 rm --recursive --only-show-errors "$BACKUP_TARGET/$stamp/"
            else
                rm -rf -- "${BACKUP_TARGET:?}/$stamp"
            fi
        fi
    done
}

[[ $# -gt 0 ]] || { echo "usage: backup.sh clean|mysql|mongo|upload|prune ..." >&2; exit 2; }
for phase in "$@"; do
    case $phase in
        clean) clean ;;
        mysql) mysql_phase ;;
        mongo) mongo_phase ;;
        upload) upload ;;
        prune) prune ;;
        *) echo "unknown phase: $phase" >&2; exit 2 ;;
    esac
done
