#!/usr/bin/env bash
# Self-test for the fake push provider (tools/fake_provider/fake_provider.py).
#
# Starts the fake in plain, TLS and mutual-TLS mode and drives it with the
# curl CLI and the control API. Run by hand (bash selftest.sh) or through
# `bazel test //tools/fake_provider:selftest`.
set -uo pipefail

PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3

if [[ -n "${TEST_SRCDIR:-}" && -f "$TEST_SRCDIR/herald/tools/fake_provider/fake_provider.py" ]]; then
  FAKE="$TEST_SRCDIR/herald/tools/fake_provider/fake_provider.py"
else
  FAKE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake_provider.py"
fi
[[ -f "$FAKE" ]] || { echo "FAIL: cannot find fake_provider.py" >&2; exit 1; }

if [[ -n "${TEST_TMPDIR:-}" ]]; then
  WORK="$(mktemp -d "$TEST_TMPDIR/fake_provider.XXXXXX")"
  OWN_WORK=0
else
  WORK="$(mktemp -d)"
  OWN_WORK=1
fi

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ "$OWN_WORK" == 1 ]]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$WORK"/*.err; do
    [[ -s "$f" ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok - $*"; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

# jget EXPR: evaluate a Python expression over the JSON on stdin (as `d`).
jget() {
  "$PY" -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(json.dumps(r) if isinstance(r, (dict, list, bool)) or r is None else r)
' "$1"
}

CURL=(curl -sS --max-time 20)

# start_fake NAME [ARGS...]: sets PORT, CTL and PID for the new instance.
start_fake() {
  local name="$1"; shift
  rm -f "$WORK/$name.ready"
  "$PY" "$FAKE" --ready-file "$WORK/$name.ready" --log-file "$WORK/$name.log" \
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  PIDS+=("$PID")
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$WORK/$name.ready" ]] && break
    kill -0 "$PID" 2>/dev/null || fail "$name: fake provider died at startup"
    sleep 0.1
  done
  [[ -s "$WORK/$name.ready" ]] || fail "$name: no ready file after 10 s"
  PORT="$(jget 'd["port"]' <"$WORK/$name.ready")"
  CTL="$(jget 'd["control_port"]' <"$WORK/$name.ready")"
  expect_eq "$(head -n 1 "$WORK/$name.out")" "$(cat "$WORK/$name.ready")" \
    "$name: stdout line matches ready file"
}

ctl_get() { "${CURL[@]}" "http://127.0.0.1:$CTL$1"; }
ctl_post() { "${CURL[@]}" -X POST -H 'content-type: application/json' --data-binary "$2" "http://127.0.0.1:$CTL$1"; }
set_rules() {
  local out
  out="$(ctl_post /rules "{\"rules\": $1}")" || fail "POST /rules failed"
  expect_eq "$(jget 'd["ok"]' <<<"$out")" "true" "POST /rules accepted"
}
reset_fake() {
  expect_eq "$(ctl_post /reset '{}' | jget 'd["ok"]')" "true" "POST /reset"
}
stats_field() { ctl_get /stats | jget "d[\"$1\"]"; }
last_req() { ctl_get /requests | jget "d['requests'][-1]$1"; }

# ---------------------------------------------------------------------------
echo "# plain (cleartext) instance"
start_fake plain
PLAIN_PID=$PID
P=$PORT
BASE="http://127.0.0.1:$P"

expect_eq "$(ctl_get /health | jget 'd["ok"]')" "true" "GET /health"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CTL/nope")"
expect_eq "$code" "404" "unknown control path"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST --data-binary '{"rules": [{"action": "explode"}]}' "http://127.0.0.1:$CTL/rules")"
expect_eq "$code" "400" "invalid rule rejected"
ok "control API basics"

# Default answer.
code="$("${CURL[@]}" -o "$WORK/body" -w '%{http_code}' "$BASE/anything")" || fail "default request failed"
expect_eq "$code" "200" "default status"
[[ ! -s "$WORK/body" ]] || fail "default body should be empty"
ok "default 200 with empty body"

# Rule with status, body and headers.
set_rules '[{"path": "/3/device/tok1", "method": "POST", "status": 410,
             "body": "{\"reason\":\"Unregistered\"}", "headers": {"apns-id": "abc-123"}},
            {"path": "/json", "json": {"name": "projects/x/messages/1"}}]'
code="$("${CURL[@]}" -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' -d '{}' "$BASE/3/device/tok1")"
expect_eq "$code" "410" "rule status"
expect_eq "$(cat "$WORK/body")" '{"reason":"Unregistered"}' "rule body"
grep -qi '^apns-id: abc-123' "$WORK/hdrs" || fail "rule header missing: $(cat "$WORK/hdrs")"
grep -qi '^content-length: 25' "$WORK/hdrs" || fail "content-length missing: $(cat "$WORK/hdrs")"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/3/device/tok1")"
expect_eq "$code" "200" "method mismatch falls through"
"${CURL[@]}" -o "$WORK/body" -D "$WORK/hdrs" "$BASE/json" || fail "json rule request failed"
expect_eq "$(jget 'd["name"]' <"$WORK/body")" "projects/x/messages/1" "json rule body"
grep -qi '^content-type: application/json' "$WORK/hdrs" || fail "json content-type missing"
ok "rule with status/body/headers/json"

# times exhaustion.
set_rules '[{"path": "/t", "times": 2, "status": 503}, {"path": "/t", "status": 201}]'
codes=""
for i in 1 2 3 4; do
  codes+="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/t") "
done
expect_eq "$codes" "503 503 201 201 " "times exhaustion"
expect_eq "$(stats_field rules_used)" "[2, 2]" "rules_used"
ok "times exhaustion"

# body_contains and header matching.
set_rules '[{"body_contains": "needle", "status": 400},
            {"header": {"x-test": "yes"}, "status": 202},
            {"path_prefix": "/pre/", "status": 204}]'
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -d 'hay needle hay' "$BASE/b")"
expect_eq "$code" "400" "body_contains match"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -d 'only hay' "$BASE/b")"
expect_eq "$code" "200" "body_contains no match"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'X-Test: yes' "$BASE/b")"
expect_eq "$code" "202" "header match"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'X-Test: no' "$BASE/b")"
expect_eq "$code" "200" "header no match"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/pre/x?y=1")"
expect_eq "$code" "204" "path_prefix match"
ok "body_contains/header/path_prefix matching"

# HTTP/1.1 recording (and /reset clearing everything).
reset_fake
expect_eq "$(ctl_get /requests | jget 'len(d["requests"])')" "0" "requests after reset"
expect_eq "$(stats_field rules_used)" "[]" "rules after reset"
"${CURL[@]}" -o /dev/null --http1.1 -H 'X-Custom: Value' -d 'payload' "$BASE/rec?q=1" || fail "HTTP/1.1 request failed"
ctl_get /requests >"$WORK/reqs.json"
expect_eq "$(jget 'd["requests"][0]["seq"]' <"$WORK/reqs.json")" "1" "seq"
expect_eq "$(jget 'd["requests"][0]["protocol"]' <"$WORK/reqs.json")" "HTTP/1.1" "protocol"
expect_eq "$(jget 'd["requests"][0]["tls"]' <"$WORK/reqs.json")" "false" "tls"
expect_eq "$(jget 'd["requests"][0]["method"]' <"$WORK/reqs.json")" "POST" "method"
expect_eq "$(jget 'd["requests"][0]["path"]' <"$WORK/reqs.json")" "/rec?q=1" "path"
expect_eq "$(jget 'd["requests"][0]["body"]' <"$WORK/reqs.json")" "payload" "body"
expect_eq "$(jget 'd["requests"][0]["body_b64"]' <"$WORK/reqs.json")" "cGF5bG9hZA==" "body_b64"
expect_eq "$(jget 'd["requests"][0]["stream_id"]' <"$WORK/reqs.json")" "null" "stream_id"
expect_eq "$(jget '["x-custom", "Value"] in d["requests"][0]["headers"]' <"$WORK/reqs.json")" "true" "header recorded"
ok "HTTP/1.1 request recorded"

# Keep-alive: two URLs in one curl run share one connection.
reset_fake
"${CURL[@]}" -o /dev/null -o /dev/null "$BASE/ka1" "$BASE/ka2" || fail "keep-alive requests failed"
expect_eq "$(ctl_get /requests | jget 'len({r["connection_id"] for r in d["requests"]})')" "1" "keep-alive connection reuse"
expect_eq "$(stats_field total_connections)" "1" "total_connections"
ok "HTTP/1.1 keep-alive"

# Chunked request body with Expect: 100-continue; binary body.
head -c 200000 /dev/urandom >"$WORK/blob"
"${CURL[@]}" -o /dev/null -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' \
  --data-binary @"$WORK/blob" "$BASE/chunked" || fail "chunked upload failed"
want="$("$PY" -c 'import base64,sys; print(base64.b64encode(open(sys.argv[1],"rb").read()).decode())' "$WORK/blob")"
ctl_get /requests >"$WORK/reqs.json"
expect_eq "$(jget 'd["requests"][-1]["body_b64"]' <"$WORK/reqs.json")" "$want" "chunked body"
expect_eq "$(jget 'd["requests"][-1]["body"]' <"$WORK/reqs.json")" "null" "binary body is null"
ok "chunked + Expect: 100-continue upload"

# HTTP/2 cleartext with prior knowledge; large upload and download.
"$PY" -c 'import sys; open(sys.argv[1], "w").write("x" * 1048576)' "$WORK/big.txt"
"$PY" -c '
import json, sys
print(json.dumps({"rules": [{"path": "/big", "body": "y" * 1048576,
                             "headers": {"X-Big": "1"}}]}))' >"$WORK/bigrule.json"
reset_fake
expect_eq "$(ctl_post /rules "@$WORK/bigrule.json" | jget 'd["ok"]')" "true" "big rule"
code="$("${CURL[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' \
  -H 'apns-topic: org.example' -d 'h2c body' "$BASE/h2c?x=1")" || fail "h2c request failed"
expect_eq "$code" "200 2" "h2c status/version"
ctl_get /requests >"$WORK/reqs.json"
expect_eq "$(jget 'd["requests"][0]["protocol"]' <"$WORK/reqs.json")" "HTTP/2" "h2c protocol"
expect_eq "$(jget 'd["requests"][0]["tls"]' <"$WORK/reqs.json")" "false" "h2c tls"
expect_eq "$(jget 'd["requests"][0]["stream_id"]' <"$WORK/reqs.json")" "1" "h2c stream_id"
expect_eq "$(jget 'd["requests"][0]["path"]' <"$WORK/reqs.json")" "/h2c?x=1" "h2c path"
expect_eq "$(jget 'd["requests"][0]["body"]' <"$WORK/reqs.json")" "h2c body" "h2c body"
expect_eq "$(jget '["apns-topic", "org.example"] in d["requests"][0]["headers"]' <"$WORK/reqs.json")" "true" "h2c header"
expect_eq "$(jget '["host", "127.0.0.1:'"$P"'"] in d["requests"][0]["headers"]' <"$WORK/reqs.json")" "true" "h2c host"
out="$("${CURL[@]}" --http2-prior-knowledge -o "$WORK/bigout" -w '%{http_code} %{size_download}' \
  --data-binary @"$WORK/big.txt" "$BASE/big")" || fail "h2c big transfer failed"
expect_eq "$out" "200 1048576" "h2c 1 MiB response"
cmp -s "$WORK/bigout" <("$PY" -c 'print("y" * 1048576, end="")') || fail "h2c big body differs"
expect_eq "$(last_req '["body"] == "x" * 1048576')" "true" "h2c 1 MiB upload"
ok "HTTP/2 cleartext prior knowledge (incl. 1 MiB each way)"

# Delay rule: 10 parallel HTTP/1.1 requests are all in flight at once.
reset_fake
set_rules '[{"path_prefix": "/slow", "delay_ms": 1500, "body": "late"}]'
start=$(date +%s%N)
cpids=()
for i in $(seq 10); do
  "${CURL[@]}" -o "$WORK/slow$i" "$BASE/slow$i" &
  cpids+=($!)
done
for pid in "${cpids[@]}"; do wait "$pid" || fail "parallel slow request failed"; done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( elapsed_ms < 4000 )) || fail "10 delayed requests took ${elapsed_ms} ms (not concurrent?)"
expect_eq "$(cat "$WORK/slow10")" "late" "delayed body"
expect_eq "$(stats_field max_in_flight)" "10" "max_in_flight"
expect_eq "$(stats_field in_flight)" "0" "in_flight after"
expect_eq "$(stats_field total)" "10" "total"
ok "delay_ms with 10 parallel requests -> max_in_flight 10 (${elapsed_ms} ms)"

# HTTP/2 multiplexing on one cleartext connection (h2 client; curl 7.88's
# --parallel with prior knowledge is buggy, so use python3-h2 directly).
reset_fake
"$PY" - "$P" <<'EOF' || fail "h2c multiplexing client failed"
import socket, sys
import h2.config, h2.connection, h2.events
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
for i in range(10):
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":path", "/slow-mux%d" % i),
                         (":scheme", "http"), (":authority", "fake")],
                   end_stream=True)
s.sendall(c.data_to_send())
done = {}
while len(done) < 10:
    data = s.recv(65536)
    if not data:
        sys.exit("connection closed early")
    for ev in c.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            done.setdefault(ev.stream_id, dict(ev.headers)[b":status"])
        if isinstance(ev, h2.events.DataReceived):
            c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
    s.sendall(c.data_to_send())
assert set(done.values()) == {b"200"}, done
EOF
expect_eq "$(stats_field max_streams_per_connection)" "10" "max_streams_per_connection"
expect_eq "$(stats_field max_in_flight)" "10" "h2c max_in_flight"
expect_eq "$(stats_field total_connections)" "1" "h2c one connection"
ok "HTTP/2 cleartext: 10 concurrent streams on one connection"

# reset / goaway / hang actions.
reset_fake
set_rules '[{"path": "/boom", "action": "reset"}, {"path": "/bye", "action": "goaway"},
            {"path": "/hang", "action": "hang"}]'
"${CURL[@]}" -o /dev/null "$BASE/boom" 2>/dev/null && fail "HTTP/1.1 reset: curl should fail"
"${CURL[@]}" --http2-prior-knowledge -o /dev/null "$BASE/boom" 2>/dev/null && fail "HTTP/2 reset: curl should fail"
"${CURL[@]}" --http2-prior-knowledge -o /dev/null "$BASE/bye" 2>/dev/null && fail "HTTP/2 goaway: curl should fail"
"${CURL[@]}" --max-time 1 -o /dev/null "$BASE/hang" 2>/dev/null
expect_eq "$?" "28" "hang: curl should time out"
expect_eq "$(stats_field total)" "4" "reset/goaway/hang requests recorded"
sleep 0.3
expect_eq "$(stats_field in_flight)" "0" "in_flight after client gave up"
expect_eq "$(stats_field connections)" "0" "connections closed"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/fine")"
expect_eq "$code" "200" "still serving after reset/goaway"
ok "reset / goaway / hang actions"

# /requests?wait_for long-poll.
reset_fake
(sleep 0.5; "${CURL[@]}" -o /dev/null "$BASE/later") &
bg=$!
n="$(ctl_get '/requests?wait_for=1&timeout_ms=10000' | jget 'len(d["requests"])')"
wait "$bg"
expect_eq "$n" "1" "wait_for returned after the request arrived"
start=$(date +%s%N)
n="$(ctl_get '/requests?wait_for=5&timeout_ms=300' | jget 'len(d["requests"])')"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$n" "1" "wait_for timeout returns what is there"
(( elapsed_ms >= 250 )) || fail "wait_for timed out too early (${elapsed_ms} ms)"
ok "GET /requests?wait_for=N&timeout_ms=T"

# Malformed input must not kill the server.
"$PY" - "$P" <<'EOF' || fail "garbage client failed"
import socket, sys
port = int(sys.argv[1])
for payload in [b"\x00\xff garbage\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64,
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff",
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort"]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
EOF
expect_eq "$(ctl_get /health | jget 'd["ok"]')" "true" "health after garbage"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/after-garbage")"
expect_eq "$code" "200" "serving after garbage"
ok "malformed input survived"

# ---------------------------------------------------------------------------
echo "# certificates"
CERTS="$WORK/certs"
mkdir -p "$CERTS"
(
  set -e
  cd "$CERTS"
  newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${newkey[@]}" -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=Herald Selftest CA"
  openssl req "${newkey[@]}" -keyout server.key -out server.csr -subj "/CN=localhost"
  openssl req "${newkey[@]}" -keyout client.key -out client.csr \
    -subj "/O=Herald Test/CN=herald-selftest-client"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
  for n in server client; do
    openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key \
      -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$n.ext" -out "$n.pem"
  done
) >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log" >&2; fail "openssl certificate generation failed"; }
ok "throwaway CA, server and client certificates"

echo "# TLS instance"
start_fake tls --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
TBASE="https://localhost:$PORT"
code="$("${CURL[@]}" --cacert "$CERTS/ca.pem" --http2 -o /dev/null -w '%{http_code} %{http_version}' \
  -d 'over tls' "$TBASE/3/device/abc")" || fail "HTTP/2 over TLS request failed"
expect_eq "$code" "200 2" "h2 over TLS status/version"
ctl_get /requests >"$WORK/reqs.json"
expect_eq "$(jget 'd["requests"][0]["protocol"]' <"$WORK/reqs.json")" "HTTP/2" "TLS h2 protocol"
expect_eq "$(jget 'd["requests"][0]["tls"]' <"$WORK/reqs.json")" "true" "TLS h2 tls flag"
expect_eq "$(jget 'd["requests"][0]["body"]' <"$WORK/reqs.json")" "over tls" "TLS h2 body"
expect_eq "$(jget 'd["requests"][0]["client_cert_subject"]' <"$WORK/reqs.json")" "null" "no client cert"
ok "HTTP/2 over TLS (ALPN h2) recorded"
code="$("${CURL[@]}" --cacert "$CERTS/ca.pem" --http1.1 -o /dev/null -w '%{http_code} %{http_version}' "$TBASE/h1")"
expect_eq "$code" "200 1.1" "HTTP/1.1 over TLS"
expect_eq "$(last_req '["protocol"]')" "HTTP/1.1" "TLS h1 protocol"
expect_eq "$(last_req '["tls"]')" "true" "TLS h1 tls flag"
ok "HTTP/1.1 over TLS (ALPN http/1.1) recorded"

# Multiplexed delayed requests over TLS with curl --parallel.
reset_fake
set_rules '[{"path_prefix": "/slow", "delay_ms": 1000}]'
urls=()
for i in $(seq 10); do urls+=("$TBASE/slow$i"); done
"${CURL[@]}" --cacert "$CERTS/ca.pem" --http2 --parallel --parallel-max 10 \
  -o /dev/null "${urls[@]}" >/dev/null 2>&1 || fail "parallel TLS requests failed"
expect_eq "$(stats_field max_in_flight)" "10" "TLS max_in_flight"
expect_eq "$(stats_field max_streams_per_connection)" "10" "TLS streams on one connection"
ok "HTTP/2 over TLS: 10 delayed requests multiplexed"

echo "# mutual TLS instance"
start_fake mtls --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" --client-ca "$CERTS/ca.pem"
MBASE="https://localhost:$PORT"
"${CURL[@]}" --cacert "$CERTS/ca.pem" -o /dev/null "$MBASE/nocert" 2>/dev/null \
  && fail "request without client certificate should fail"
code="$("${CURL[@]}" --cacert "$CERTS/ca.pem" --cert "$CERTS/client.pem" --key "$CERTS/client.key" \
  --http2 -o /dev/null -w '%{http_code}' "$MBASE/withcert")" || fail "request with client certificate failed"
expect_eq "$code" "200" "mTLS status"
expect_eq "$(ctl_get /requests | jget 'len(d["requests"])')" "1" "only the certified request recorded"
subject="$(last_req '["client_cert_subject"]')"
[[ "$subject" == *"CN=herald-selftest-client"* && "$subject" == *"O=Herald Test"* ]] \
  || fail "client_cert_subject: got '$subject'"
ok "client certificate required; subject recorded ($subject)"

# ---------------------------------------------------------------------------
echo "# shutdown"
kill -TERM "$PLAIN_PID"
wait "$PLAIN_PID"
expect_eq "$?" "0" "exit status after SIGTERM"
for f in "$WORK"/*.err; do
  [[ -s "$f" ]] && fail "unexpected stderr output in $f: $(head -c 500 "$f")"
done
ok "clean exit on SIGTERM, nothing on stderr"

echo "PASS: all fake provider checks passed"
