#!/bin/bash
# Creates the topics of CONTRACT §7 and their dead-letter topics; safe to run again (--if-not-exists,
# then configs are re-applied so a retention change in topics.txt reaches existing topics).
# Broker auto-creation is off outside tests, so this job runs before any service starts. The one copy:
# the compose files' kafka-init and the Kubernetes kafka-topics Job both run this file with topics.txt,
# whose list tests/infra compares with chat_shared.events.topics.
#
# Env: BOOTSTRAP (kafka:9092), REPLICATION_FACTOR (1 single node, 3 in msa/production),
#      MIN_INSYNC_REPLICAS (1, or 2 with three brokers so acks=all survives one broker down),
#      TOPICS_FILE (this directory's topics.txt), KAFKA_BIN (/opt/kafka/bin in apache/kafka).
set -euo pipefail

BOOTSTRAP=${BOOTSTRAP:-kafka:9092}
RF=${REPLICATION_FACTOR:-1}
MIN_ISR=${MIN_INSYNC_REPLICAS:-1}
TOPICS_FILE=${TOPICS_FILE:-$(dirname "$0")/topics.txt}
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
DLQ_PARTITIONS=3
DLQ_RETENTION_MS=1209600000  # 14 d: long enough to notice, fix and replay a poison event

# min.insync.replicas above a topic's replication factor makes every acks=all write fail, so it is never
# set higher than the replication the topic really has.
if ((MIN_ISR > RF)); then echo "MIN_INSYNC_REPLICAS ($MIN_ISR) > REPLICATION_FACTOR ($RF)" >&2; exit 1; fi

echo "waiting for ${BOOTSTRAP}"
for attempt in $(seq 1 60); do
    if "${KAFKA_BIN}/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; then break; fi
    if [[ $attempt == 60 ]]; then echo "broker not reachable" >&2; exit 1; fi
    sleep 2
done

describe_field() {  # describe_field TOPIC FIELD: PartitionCount or ReplicationFactor as it is now
    "${KAFKA_BIN}/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe --topic "$1" |
        sed -nE "s/.*$2: ?([0-9]+).*/\\1/p" | head -n 1
}

broker_ids() {
    "${KAFKA_BIN}/kafka-broker-api-versions.sh" --bootstrap-server "$BOOTSTRAP" |
        sed -nE 's/.*\(id: ([0-9]+) rack.*/\1/p' | sort -n | uniq
}

# A topic created on a smaller cluster (the MVP's single broker) keeps its replication when the cluster
# grows: reassign its partitions to RF brokers each, round-robin, and wait until Kafka has copied them.
raise_replication() {  # raise_replication NAME PARTITIONS
    local ids plan=${TMPDIR:-/tmp}/reassign-$1.json
    mapfile -t ids < <(broker_ids)
    if ((${#ids[@]} < RF)); then echo "only ${#ids[@]} brokers for replication factor $RF" >&2; exit 1; fi
    {
        printf '{"version":1,"partitions":['
        for ((p = 0; p < $2; p++)); do
            ((p == 0)) || printf ','
            printf '{"topic":"%s","partition":%d,"replicas":[' "$1" "$p"
            for ((r = 0; r < RF; r++)); do
                ((r == 0)) || printf ','
                printf '%s' "${ids[$(((p + r) % ${#ids[@]}))]}"
            done
            printf ']}'
        done
        printf ']}\n'
    } >"$plan"
    echo "raising the replication of $1 to $RF"
    "${KAFKA_BIN}/kafka-reassign-partitions.sh" --bootstrap-server "$BOOTSTRAP" \
        --reassignment-json-file "$plan" --execute >/dev/null
    while "${KAFKA_BIN}/kafka-reassign-partitions.sh" --bootstrap-server "$BOOTSTRAP" \
        --reassignment-json-file "$plan" --verify | grep -q 'still in progress'; do
        sleep 2
    done
}

ensure_topic() {  # ensure_topic NAME PARTITIONS RETENTION_MS
    "${KAFKA_BIN}/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$1" --partitions "$2" --replication-factor "$RF" \
        --config "retention.ms=$3" --config "min.insync.replicas=$MIN_ISR"
    if (($(describe_field "$1" ReplicationFactor) < RF)); then
        raise_replication "$1" "$(describe_field "$1" PartitionCount)"
    fi
    "${KAFKA_BIN}/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter \
        --entity-type topics --entity-name "$1" \
        --add-config "retention.ms=$3,min.insync.replicas=$MIN_ISR" >/dev/null
}

grep -vE '^\s*(#|$)' "$TOPICS_FILE" | while read -r topic partitions retention; do
    ensure_topic "$topic" "$partitions" "$retention"
    ensure_topic "${topic}.dlq" "$DLQ_PARTITIONS" "$DLQ_RETENTION_MS"
done

"${KAFKA_BIN}/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe \
    | grep -E '^Topic:' | grep -vE 'Topic: __' || true
echo "topics ready"
