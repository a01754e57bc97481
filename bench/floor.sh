#!/usr/bin/env bash
# The floor of the first15 phase: the HTTP requests it makes, sent by curl and nothing else.
#
#   bench/floor.sh API_URL HTTP_URL CA_FILE EMAIL PASSWORD_FILE
#
# Prints one "label status" line per request. bench/first15.py times it; a floor that
# got the wrong answers would not be the same work, so it checks the statuses.
set -euo pipefail
api=${1%/} http=${2%/} ca=$3 email=$4
password=$(<"$5")
fmt='%{http_code}\n'

# One keep-alive connection, as the suite's HTTP client keeps one: wait.ready's ping,
# deploy.version, health, readiness, api.surface, the 404 probe of errors.no_leak, then
# (--next keeps the connection) headers.security's ping with an Origin and the malformed login.
codes=$(curl -sS --cacert "$ca" -w "$fmt" \
  -o /dev/null "$api/api/v1/ping" \
  -o /dev/null "$api/api/v1/version" \
  -o /dev/null "$api/api/v1/health" \
  -o /dev/null "$api/api/v1/readiness" \
  -o /dev/null "$api/openapi.json" \
  -o /dev/null "$api/api/v1/postdeploy-probe-not-found" \
  --next -sS --cacert "$ca" -w "$fmt" -o /dev/null -H 'Origin: https://postdeploy-cors-probe.invalid' "$api/api/v1/ping" \
  --next -sS --cacert "$ca" -w "$fmt" -o /dev/null -X POST -H 'Content-Type: application/json' \
  --data '{"email": ' "$api/api/v1/auth/login")
labels=(ping version health readiness openapi not_found headers malformed_login)
i=0
for code in $codes; do
  echo "${labels[$i]} $code"
  i=$((i + 1))
done

# auth.login: the one login of the run; its token serves db.read and business.flow.
body=$(curl -sS --cacert "$ca" -X POST -H 'Content-Type: application/json' \
  --data "{\"email\": \"$email\", \"password\": \"$password\"}" "$api/api/v1/auth/login")
token=$(sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p' <<<"$body")
[ -n "$token" ] || { echo "login 000 (no access_token)"; exit 1; }
echo "login 200"
codes=$(curl -sS --cacert "$ca" -w "$fmt" -H "Authorization: Bearer $token" \
  -o /dev/null "$api/api/v1/projects" -o /dev/null "$api/api/v1/escrow/transactions")
set -- $codes
echo "projects $1"
echo "transactions $2"

# tls.cert opens a connection of its own for the handshake; curl has no handshake-only
# mode, so this is a handshake plus one small GET (a little more than the suite does).
echo "tls_handshake $(curl -sS --cacert "$ca" -o /dev/null -w "$fmt" "$api/api/v1/ping")"
# tls.redirect: plain HTTP, redirects not followed.
echo "redirect $(curl -sS -o /dev/null -w "$fmt" "$http/api/v1/ping")"
