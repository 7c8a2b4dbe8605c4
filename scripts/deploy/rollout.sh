#!/usr/bin/env bash
# One deploy of the images of one commit to the cluster of KUBECONFIG (.github/workflows/deploy.yml runs
# it for staging, then, after approval, for production with the same digests).
#   rollout.sh DIGESTS_FILE
# DIGESTS_FILE: lines "<service> <registry>/<service>@sha256:<digest>". Environment:
#   NAMESPACE (bigtech-chat), OVERLAY (k8s/overlays/production), INGRESS_HOST (replaces the placeholder
#   host of the Ingress and the certificate), CHANGE_CAUSE (written on each Deployment),
#   ROLLOUT_TIMEOUT (240s: a little over progressDeadlineSeconds, 180 s, so Kubernetes reports first).
# Order: backup (where the overlay has the backup CronJob) -> stores, config, policies -> topics and
# migrations (Jobs, awaited) -> Deployments, all waited for in parallel; if any does not become ready,
# all are undone together and the script fails.
set -euo pipefail

digests=${1:?usage: rollout.sh DIGESTS_FILE}
ns=${NAMESPACE:-bigtech-chat}
overlay=${OVERLAY:-k8s/overlays/production}
timeout=${ROLLOUT_TIMEOUT:-240s}
deployments=(user-service friend-service chat-service notification-service web)
jobs=(kafka-topics user-service-migrate friend-service-migrate chat-service-migrate notification-service-migrate)

log() { printf '==> %s\n' "$*"; }

pin_images() {
    for dir in "$overlay" "$overlay/jobs"; do
        while read -r service image; do
            [[ $image =~ @sha256:[0-9a-f]{64}$ ]] || { echo "not a digest reference: $image" >&2; exit 1; }
            (cd "$dir" && kustomize edit set image "bigtech-chat/$service=$image")
        done <"$digests"
    done
    if [[ -n ${INGRESS_HOST:-} ]]; then
        sed -i "s/api\.chat\.example\.com/$INGRESS_HOST/g" k8s/base/ingress.yaml \
            k8s/components/cert-manager/certificate.yaml
    fi
    kubectl kustomize "$overlay" | grep -E '^\s+image:' | sort -u
}

backup_first() {
    if kubectl -n "$ns" get cronjob backup >/dev/null 2>&1; then
        local job="pre-deploy-${GITHUB_RUN_ID:-manual}-${GITHUB_RUN_ATTEMPT:-1}"
        log "backup before migrations ($job)"
        kubectl -n "$ns" create job "$job" --from=cronjob/backup
        kubectl -n "$ns" wait --for=condition=complete --timeout=30m "job/$job"
    else
        log "no backup CronJob here: the managed stores' snapshots cover this deploy"
    fi
}

migrate() {
    log "stores, config and policies"
    kubectl apply -k "$overlay" -l 'app.kubernetes.io/component!=api'
    if kubectl -n "$ns" get statefulset -o name | grep -q .; then
        kubectl -n "$ns" rollout status statefulset --timeout=10m
    fi
    log "topics and migrations"
    # Job templates are immutable: replace last deploy's Jobs instead of patching them.
    kubectl -n "$ns" delete job "${jobs[@]}" --ignore-not-found --wait=true
    kubectl apply -k "$overlay/jobs"
    if ! kubectl -n "$ns" wait --for=condition=complete --timeout=10m "${jobs[@]/#/job/}"; then
        for job in "${jobs[@]}"; do kubectl -n "$ns" logs "job/$job" --tail=100 || true; done
        exit 1
    fi
}

wait_all() {
    local pids=() failed=0
    for d in "${deployments[@]}"; do
        kubectl -n "$ns" rollout status "deployment/$d" --timeout="$timeout" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    return "$failed"
}

undo_all() {
    log "rolling back ${deployments[*]}"
    for d in "${deployments[@]}"; do kubectl -n "$ns" rollout undo "deployment/$d" || true; done
    wait_all || true
}

roll_out() {
    log "services"
    kubectl apply -k "$overlay"
    for d in "${deployments[@]}"; do
        kubectl -n "$ns" annotate deployment "$d" --overwrite \
            kubernetes.io/change-cause="${CHANGE_CAUSE:-deploy by hand}"
    done
    if ! wait_all; then
        # All three go back together: the migrations are backward compatible, a mix of service
        # versions is what was never tested.
        undo_all
        exit 1
    fi
}

case ${ROLLOUT_STEP:-all} in
    all)
        pin_images
        backup_first
        migrate
        roll_out
        ;;
    undo) undo_all ;;
    *) echo "unknown ROLLOUT_STEP: $ROLLOUT_STEP" >&2; exit 2 ;;
esac
