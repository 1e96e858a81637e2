#!/usr/bin/env bash
# One order from placement to delivery over the REST API, then its events
# over the websocket with `ordercast watch`. Run it against a running server
# (go run ./cmd/ordercast); it signs up new users every run, so it can be
# run again, and it stops with the server's answer at the first failure.
#
#   ORDERCAST_URL  the server (default http://localhost:8080)
#   ORDERCAST_BIN  an ordercast binary for the websocket step (default: go run ./cmd/ordercast)
#
# Needs bash, curl (7.76 or later) and jq.
set -euo pipefail

base=${ORDERCAST_URL:-http://localhost:8080}
api=$base/api/v1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=$(date +%s)-$RANDOM # this run's emails and idempotency key

for tool in curl jq; do
	command -v "$tool" >/dev/null || { echo "walkthrough: $tool is required" >&2; exit 1; }
done

step() { printf '\n== %s\n' "$*"; }

# call METHOD PATH TOKEN [BODY] [curl options…] prints the JSON answer; an
# answer other than 2xx stops the script with the server's error body.
call() {
	local method=$1 path=$2 token=$3 body=${4:-}
	shift $(($# < 4 ? $# : 4))
	local args=(--silent --show-error --fail-with-body -X "$method" "$api$path")
	[[ -z $token ]] || args+=(-H "Authorization: Bearer $token")
	[[ -z $body ]] || args+=(-H 'Content-Type: application/json' -d "$body")
	local out
	if ! out=$(curl "${args[@]}" "$@"); then
		echo "walkthrough: $method $path failed: $out" >&2
		return 1
	fi
	printf '%s\n' "$out"
}

ordercast() {
	if [[ -n ${ORDERCAST_BIN:-} ]]; then
		"$ORDERCAST_BIN" "$@"
	else
		(cd "$root" && go run ./cmd/ordercast "$@")
	fi
}

step "A restaurant, a customer and a courier sign up"
register() { # role name email [extra JSON fields]
	call POST /auth/register "" \
		"{\"email\":\"$3\",\"password\":\"walkthrough-pw-1\",\"name\":\"$2\",\"role\":\"$1\"${4:-}}" |
		jq -er '.access_token'
}
R=$(register restaurant Chef "chef-$run@example.com" ',"restaurant_name":"Luigi"')
C=$(register customer Ann "ann-$run@example.com")
D=$(register courier Bo "bo-$run@example.com")
RID=$(call GET /me "$R" | jq -er '.restaurant_id')
echo "chef-$run@example.com runs restaurant $RID; ann-$run@example.com orders; bo-$run@example.com delivers"

step "The restaurant adds a pizza to its menu"
ITEM=$(call POST "/restaurants/$RID/menu" "$R" '{"name":"Margherita","price_cents":1250}' | jq -er '.id')
call GET "/restaurants/$RID/menu" "" | jq -c '.items[]'

step "The customer orders two (the server prices them); a retry with the same key is the same order"
order="{\"restaurant_id\":\"$RID\",\"items\":[{\"menu_item_id\":\"$ITEM\",\"quantity\":2}],\"delivery_address\":\"1 Main St\"}"
OID=$(call POST /orders "$C" "$order" -H "Idempotency-Key: walkthrough-$run" | jq -er '.id')
call POST /orders "$C" "$order" -H "Idempotency-Key: walkthrough-$run" |
	jq -ec --arg id "$OID" 'select(.id == $id) | {id, status, seq, total_cents}'

# status TOKEN STATUS moves the order and checks that it moved.
status() {
	call POST "/orders/$OID/status" "$1" "{\"status\":\"$2\"}" |
		jq -ec --arg s "$2" 'select(.status == $s) | {status, seq, courier_id}'
}

step "The restaurant accepts; the courier claims it; the restaurant prepares it"
status "$R" accepted
call POST "/orders/$OID/claim" "$D" | jq -ec 'select(.courier_id != null) | {status, seq, courier_id}'
status "$R" preparing
status "$R" ready

step "The courier picks it up; the customer writes in the order's chat; the courier delivers"
status "$D" picked_up
call POST "/orders/$OID/messages" "$C" "{\"text\":\"Ring twice, please\",\"client_msg_id\":\"walkthrough-$run\"}" |
	jq -ec '{seq, author_role, text}'
status "$D" delivered

step "The event log over REST (what a client fetches with ?after=<last seq seen>)"
call GET "/orders/$OID/events?after=0" "$C" | jq -ec '.events[] | [.seq, .event, (.data.status // .data.text)]'

step "The same events over the websocket: ordercast watch -since 0 -n 8 order:$OID"
ORDERCAST_TOKEN=$C ordercast watch -url "$base" -since 0 -n 8 "order:$OID" |
	jq -ec '[.seq, .event, (.data.status // .data.text)]'

step "Done: order $OID delivered"
