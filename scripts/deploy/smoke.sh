#!/usr/bin/env bash
# The smoke test that decides whether a deploy succeeded (.github/workflows/deploy.yml).
#   smoke.sh BASE_URL        e.g. https://api.chat.example.com
# 1. /ready of each service, through the API server's service proxy (readiness is not public);
# 2. through the Ingress, over HTTPS: a login of the smoke-test account (SMOKE_EMAIL, SMOKE_PASSWORD,
#    an account made once per environment) and one authenticated call that each service answers.
# Retries each request a few times: a pod that just became ready may still be joining the endpoints.
set -euo pipefail

base=${1:?usage: smoke.sh BASE_URL}
[[ $base == https://* ]] || { echo "the smoke test goes through the Ingress over HTTPS: $base" >&2; exit 2; }
ns=${NAMESPACE:-bigtech-chat}
for service in user-service friend-service chat-service notification-service; do
    echo "ready: $service"
    kubectl get --raw "/api/v1/namespaces/$ns/services/http:$service:http/proxy/ready" >/dev/null
done

curl_json() {
    curl --fail-with-body --silent --show-error --retry 5 --retry-all-errors --retry-delay 3 --max-time 15 "$@"
}

echo "login through the Ingress"
body=$(jq -n --arg email "${SMOKE_EMAIL:?}" --arg password "${SMOKE_PASSWORD:?}" '{email: $email, password: $password}')
token=$(curl_json -X POST "$base/api/auth/login/json" -H 'Content-Type: application/json' --data "$body" |
    jq -er .access_token)
echo "::add-mask::$token"

for path in /api/profile/me /api/friends /api/rooms; do
    echo "GET $path"
    curl_json "$base$path" -H "Authorization: Bearer $token" -o /dev/null
done
echo "smoke test passed"
