# shellcheck shell=bash
# One database and one user per service, each user with rights on its own database only (CONTRACT §1:
# no service reads another's database). Sourced by the mysql image's entrypoint on the first start of an
# empty data directory (docker-entrypoint-initdb.d), which provides docker_process_sql with root rights.
# The one copy: the compose files mount this directory, the Kubernetes StatefulSet a ConfigMap of it.
#
# The passwords are not configured twice: they are read back out of the services' own DATABASE_URL
# secret files (mysql+aiomysql://<user>:<password>@host:port/<db>), so the URL a service connects with
# and the account created here cannot drift apart. The exporter's comes from its my.cnf secret.
#
# Deliberately not executable and without `set -u`: the entrypoint sources non-executable *.sh files
# (that is how docker_process_sql is in scope), and shell options set here would leak into it.

SECRETS_DIR=${SECRETS_DIR:-/run/secrets}

sql_for_url() {  # sql_for_url FILE -> CREATE DATABASE/USER/GRANT for the URL in FILE
    local url user password database
    url=$(tr -d '\r\n' < "$1")
    user=$(sed -E 's|^[^:]+://([^:]+):.*$|\1|' <<< "$url")
    password=$(sed -E 's|^[^:]+://[^:]+:([^@]*)@.*$|\1|' <<< "$url")
    database=$(sed -E 's|^.*/([^/?]+)(\?.*)?$|\1|' <<< "$url")
    cat <<SQL
CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}';
ALTER USER '${user}'@'%' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON \`${database}\`.* TO '${user}'@'%';
SQL
}

{
    for service in user friend chat notification; do
        file="${SECRETS_DIR}/${service}_database_url"
        if [[ -r "$file" ]]; then
            sql_for_url "$file"
        else
            echo "-- ${file} not mounted: ${service}-service database skipped" >&2
        fi
    done

    cnf="${SECRETS_DIR}/mysqld_exporter.cnf"
    if [[ -r "$cnf" ]]; then
        exporter_password=$(sed -nE 's/^password=(.*)$/\1/p' "$cnf" | tr -d '\r')
        # Server status, process list, replication state and performance_schema only: no table data.
        cat <<SQL
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${exporter_password}' WITH MAX_USER_CONNECTIONS 3;
ALTER USER 'exporter'@'%' IDENTIFIED BY '${exporter_password}';
GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'exporter'@'%';
GRANT SELECT ON performance_schema.* TO 'exporter'@'%';
SQL
    fi
    echo "FLUSH PRIVILEGES;"
} | docker_process_sql --database=mysql
