#!/usr/bin/env bash
# Refuses to deploy a commit whose checks did not pass (.github/workflows/deploy.yml, job `gate`).
#   gate.sh SHA
# Waits (up to GATE_TIMEOUT_SECONDS, default 3600) until the CI, E2E and Images workflow runs of the
# commit have finished, then requires the latest attempt of each to have succeeded, and no check run of
# the commit to have failed. Uses `gh api` with GH_TOKEN (actions: read, checks: read) in GITHUB_REPOSITORY.
set -euo pipefail

sha=${1:?usage: gate.sh SHA}
[[ $sha =~ ^[0-9a-f]{40}$ ]] || { echo "not a full commit SHA: '$sha'" >&2; exit 2; }
repo=${GITHUB_REPOSITORY:?}
timeout=${GATE_TIMEOUT_SECONDS:-3600}
interval=${GATE_POLL_SECONDS:-30}
# The workflow files whose runs must pass: the tests (ci), the compose end-to-end run (e2e) and the
# image build with its size and vulnerability gates (images), which also pushes the images deployed.
required=(.github/workflows/ci.yml .github/workflows/e2e.yml .github/workflows/images.yml)

# "<path> <status> <conclusion>" of the newest run of each workflow for this commit, on pushes.
latest_runs() {
    gh api --paginate "repos/$repo/actions/runs?head_sha=$sha&event=push&per_page=100" \
        --jq '.workflow_runs[] | [.path, .run_number, .run_attempt, .status, (.conclusion // "none")] | @tsv' |
        sort -k1,1 -k2,2n -k3,3n | awk -F'\t' '{ last[$1] = $1 " " $4 " " $5 } END { for (p in last) print last[p] }'
}

failed_check_runs() {
    gh api --paginate "repos/$repo/commits/$sha/check-runs?per_page=100" \
        --jq '.check_runs[] | select(.status == "completed")
              | select(.conclusion as $c | ["success", "skipped", "neutral"] | index($c) | not)
              | "\(.name): \(.conclusion)"'
}

waited=0
while true; do
    runs=$(latest_runs)
    pending=()
    for path in "${required[@]}"; do
        line=$(grep -F "$path " <<<"$runs" || true)
        read -r _ status conclusion <<<"${line:-$path missing none}"
        if [[ $status != completed ]]; then
            pending+=("$path ($status)")
        elif [[ $conclusion != success ]]; then
            echo "::error::$path did not pass for $sha: $conclusion" >&2
            exit 1
        fi
    done
    ((${#pending[@]})) || break
    if ((waited >= timeout)); then
        echo "::error::still waiting for ${pending[*]} after ${timeout}s" >&2
        exit 1
    fi
    echo "waiting for ${pending[*]}"
    sleep "$interval"
    waited=$((waited + interval))
done

failed=$(failed_check_runs)
if [[ -n $failed ]]; then
    echo "::error::failed check runs on $sha:" >&2
    echo "$failed" >&2
    exit 1
fi
echo "ci.yml, e2e.yml and images.yml passed for $sha"
