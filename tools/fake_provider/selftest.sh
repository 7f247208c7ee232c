#!/usr/bin/env bash
# Self-test for the fake push provider (tools/fake_provider/fake_provider.py).
#
# Starts the fake in plain, TLS and mutual-TLS mode and drives it with the
# curl CLI and the control API. The JWT / OAuth2 / Web Push checks make
# throwaway keys with python3-cryptography. Run by hand (bash selftest.sh) or through
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
JWT_GRANT="urn:ietf:params:oauth:grant-type:jwt-bearer"

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
echo "# JWT / OAuth2 / Web Push checks (plain instance)"
CRYPTO="$WORK/crypto"
mkdir -p "$CRYPTO"
# Throwaway keys, JWTs and an encrypted Web Push message, made with python
# cryptography (one file per value in $CRYPTO).
"$PY" - "$CRYPTO" <<'EOF' >"$WORK/cryptogen.log" 2>&1 || { cat "$WORK/cryptogen.log" >&2; fail "test key / JWT generation failed"; }
import base64, hashlib, hmac, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

out = sys.argv[1]
def put(name, data):
    with open(os.path.join(out, name), "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
def point(key):
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
def jwt(key, claims, alg=None):
    alg = alg or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    head = {"alg": alg, "typ": "JWT", "kid": "KEYID12345"}
    si = (b64u(json.dumps(head).encode()) + "." + b64u(json.dumps(claims).encode())).encode()
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(si, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "RS256":
        sig = key.sign(si, padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = hmac.new(b"secret", si, hashlib.sha256).digest()
    return si.decode() + "." + b64u(sig)

ec1 = ec.generate_private_key(ec.SECP256R1())
ec2 = ec.generate_private_key(ec.SECP256R1())
rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
put("ec.pem", pem(ec1)); put("rsa.pem", pem(rsa1))
apns = {"iss": "TEAMID1234", "iat": 1700000000}
put("es_ok", jwt(ec1, apns))
put("es_other", jwt(ec2, apns))
good = jwt(ec1, apns).split(".")
put("es_tampered", good[0] + "." + b64u(json.dumps({"iss": "EVIL", "iat": 1}).encode()) + "." + good[2])
put("hs256", jwt(ec1, apns, alg="HS256"))
put("rs_ok", jwt(rsa1, {"iss": "rs"}))
grant = {"iss": "sa@example.iam.gserviceaccount.com",
         "scope": "https://www.googleapis.com/auth/firebase.messaging",
         "aud": "https://oauth2.googleapis.com/token", "iat": 1700000000, "exp": 1700003600}
put("assert_ok", jwt(rsa1, grant))
put("assert_other", jwt(rsa2, grant))
put("assert_es", jwt(ec1, grant))
vapid = {"aud": "https://push.example.net", "exp": 1700086400, "sub": "mailto:ops@example.org"}
put("vapid_t", jwt(ec1, vapid))
put("vapid_k", b64u(point(ec1)))
put("vapid_k_other", b64u(point(ec2)))

# RFC 8291 appendix A test vector.
put("rfc_body", base64.urlsafe_b64decode(
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN" + "=="))
# A fresh message with 40 bytes of padding, encrypted independently here.
ua = ec.generate_private_key(ec.SECP256R1())
sender = ec.generate_private_key(ec.SECP256R1())
auth = os.urandom(16)
salt = os.urandom(16)
H = lambda k, m: hmac.new(k, m, hashlib.sha256).digest()
prk_key = H(auth, sender.exchange(ec.ECDH(), ua.public_key()))
ikm = H(prk_key, b"WebPush: info\x00" + point(ua) + point(sender) + b"\x01")
prk = H(salt, ikm)
cek = H(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
nonce = H(prk, b"Content-Encoding: nonce\x00\x01")[:12]
msg = '{"notification": {"room_id": "!r:x", "text": "h\u00e9llo \u2713"}}'
put("wp_msg", msg)
ct = AESGCM(cek).encrypt(nonce, msg.encode() + b"\x02" + b"\x00" * 40, None)
put("wp_body", salt + (4096).to_bytes(4, "big") + bytes([65]) + point(sender) + ct)
put("wp_body_bad", salt + (4096).to_bytes(4, "big") + bytes([65]) + point(sender)
    + ct[:-1] + bytes([ct[-1] ^ 1]))
ct1 = AESGCM(cek).encrypt(nonce, msg.encode() + b"\x01", None)
put("wp_body_notlast", salt + (4096).to_bytes(4, "big") + bytes([65]) + point(sender) + ct1)
put("wp_ua_priv", b64u(ua.private_numbers().private_value.to_bytes(32, "big")))
put("wp_auth", b64u(auth))
EOF
ok "throwaway EC/RSA keys, JWTs and a Web Push message"
cv() { cat "$CRYPTO/$1"; }
# jpem FILE: the PEM as a JSON string.
jpem() { "$PY" -c 'import json, sys; print(json.dumps(open(sys.argv[1]).read()))' "$CRYPTO/$1"; }
EC_PEM="$(jpem ec.pem)"
RSA_PEM="$(jpem rsa.pem)"

# Recorded JWTs.
reset_fake
"${CURL[@]}" -o /dev/null -H "Authorization: bearer $(cv es_ok)" "$BASE/jwt1" || fail "jwt request 1"
"${CURL[@]}" -o /dev/null -H "Authorization: vapid t=$(cv vapid_t), k=$(cv vapid_k)" "$BASE/jwt2" || fail "jwt request 2"
"${CURL[@]}" -o /dev/null -H "Authorization: vapid k=$(cv vapid_k),t=$(cv vapid_t)" "$BASE/jwt3" || fail "jwt request 3"
"${CURL[@]}" -o /dev/null -H "Authorization: Bearer not-a-jwt" "$BASE/jwt4" || fail "jwt request 4"
"${CURL[@]}" -o /dev/null "$BASE/jwt5" || fail "jwt request 5"
"${CURL[@]}" -o /dev/null --data-urlencode "grant_type=$JWT_GRANT" --data-urlencode "assertion=$(cv assert_ok)" \
  "$BASE/jwt6" 2>/dev/null || true
ctl_get '/requests?wait_for=6&timeout_ms=5000' >"$WORK/reqs.json"
r() { jget "d['requests'][$1]$2" <"$WORK/reqs.json"; }
expect_eq "$(r 0 '["jwt"]["scheme"]')" "bearer" "bearer scheme recorded"
expect_eq "$(r 0 '["jwt"]["header"]["alg"]')" "ES256" "bearer header decoded"
expect_eq "$(r 0 '["jwt"]["header"]["kid"]')" "KEYID12345" "bearer kid decoded"
expect_eq "$(r 0 '["jwt"]["claims"]["iss"]')" "TEAMID1234" "bearer claims decoded"
expect_eq "$(r 0 '["jwt"]["vapid_k"]')" "null" "bearer vapid_k"
expect_eq "$(r 1 '["jwt"]["scheme"]')" "vapid" "vapid scheme recorded"
expect_eq "$(r 1 '["jwt"]["claims"]["sub"]')" "mailto:ops@example.org" "vapid claims decoded"
expect_eq "$(r 1 '["jwt"]["vapid_k"]')" "$(cv vapid_k)" "vapid k recorded"
expect_eq "$(r 2 '["jwt"]["claims"]["aud"]')" "https://push.example.net" "vapid (k first, no space) claims"
expect_eq "$(r 2 '["jwt"]["vapid_k"]')" "$(cv vapid_k)" "vapid (k first, no space) k"
expect_eq "$(r 3 '["jwt"]')" '{"scheme": "bearer", "header": null, "claims": null, "vapid_k": null}' "undecodable bearer"
expect_eq "$(r 4 '.get("jwt", "absent")')" "absent" "no authorization -> no jwt"
expect_eq "$(r 4 '.get("jwt_valid", "absent")')" "absent" "no jwt rule -> no jwt_valid"
expect_eq "$(r 5 '["assertion_jwt"]["scheme"]')" "assertion" "assertion_jwt recorded"
expect_eq "$(r 5 '["assertion_jwt"]["header"]["alg"]')" "RS256" "assertion_jwt header"
expect_eq "$(r 5 '["assertion_jwt"]["claims"]["scope"]')" "https://www.googleapis.com/auth/firebase.messaging" "assertion_jwt claims"
ok "recorded jwt / assertion_jwt"

# jwt rules: ES256 provider token (APNs style), RS256, VAPID (key from k=),
# assertion source.
set_rules '[{"path_prefix": "/3/device/", "jwt": {"valid": false, "public_key_pem": '"$EC_PEM"'},
             "status": 403, "json": {"reason": "InvalidProviderToken"}},
            {"path": "/rs", "jwt": {"valid": true, "public_key_pem": '"$RSA_PEM"'}, "status": 201},
            {"path": "/wp", "jwt": {"valid": true}, "status": 201},
            {"path": "/as", "jwt": {"valid": true, "source": "assertion", "public_key_pem": '"$RSA_PEM"'}, "status": 202}]'
codes=""
for tok in es_ok es_other es_tampered hs256 rs_ok; do
  codes+="$("${CURL[@]}" -o "$WORK/body" -w '%{http_code}' -H "Authorization: bearer $(cv $tok)" -d '{}' "$BASE/3/device/abc") "
done
codes+="$("${CURL[@]}" -o "$WORK/body" -w '%{http_code}' -d '{}' "$BASE/3/device/abc")"
expect_eq "$codes" "200 403 403 403 403 403" "jwt valid:false rule (ok, other key, tampered, HS256, RS256 token, missing)"
expect_eq "$(jget 'd["reason"]' <"$WORK/body")" "InvalidProviderToken" "jwt rule body"
code="$("${CURL[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H "authorization: bearer $(cv es_other)" "$BASE/3/device/h2")"
expect_eq "$code" "403" "jwt rule over HTTP/2"
ctl_get /requests >"$WORK/reqs.json"
expect_eq "$(jget '[q["jwt_valid"] for q in d["requests"][-7:]]' <"$WORK/reqs.json")" \
  "[true, false, false, false, false, false, false]" "jwt_valid recorded (first jwt rule's key)"
expect_eq "$(jget '[q["assertion_jwt_valid"] for q in d["requests"][-7:]]' <"$WORK/reqs.json")" \
  "[false, false, false, false, false, false, false]" "assertion_jwt_valid recorded"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cv rs_ok)" "$BASE/rs")"
expect_eq "$code" "201" "RS256 valid"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cv es_ok)" "$BASE/rs")"
expect_eq "$code" "200" "ES256 token vs RSA key is not valid"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: vapid t=$(cv vapid_t), k=$(cv vapid_k)" "$BASE/wp")"
expect_eq "$code" "201" "VAPID valid with key from k="
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: vapid t=$(cv vapid_t),k=$(cv vapid_k_other)" "$BASE/wp")"
expect_eq "$code" "200" "VAPID with the wrong k is not valid"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cv vapid_t)" "$BASE/wp")"
expect_eq "$code" "200" "bearer without public_key_pem is not valid"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' --data-urlencode "assertion=$(cv assert_ok)" "$BASE/as")"
expect_eq "$code" "202" "assertion source valid"
expect_eq "$(last_req '["assertion_jwt_valid"]')" "true" "assertion_jwt_valid true"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' --data-urlencode "assertion=$(cv assert_other)" "$BASE/as")"
expect_eq "$code" "200" "assertion signed by another key"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'content-type: text/plain' --data-binary "assertion=$(cv assert_ok)" "$BASE/as")"
expect_eq "$code" "200" "assertion outside a form body is ignored"
ok "jwt rules: ES256, RS256, VAPID k=, assertion source, jwt_valid"

# oauth_token + bearer_token (FCM style), over HTTP/1.1 and HTTP/2.
reset_fake
set_rules '[{"path": "/token", "action": "oauth_token", "public_key_pem": '"$RSA_PEM"', "delay_ms": 300},
            {"path": "/token2", "action": "oauth_token", "public_key_pem": '"$RSA_PEM"',
             "access_token": "custom-tok", "expires_in": 60, "headers": {"x-fake": "1"}},
            {"path_prefix": "/v1/", "bearer_token": {"issued": false}, "status": 401,
             "json": {"error": {"status": "UNAUTHENTICATED"}}},
            {"path_prefix": "/v1/", "bearer_token": {"issued": true},
             "json": {"name": "projects/p/messages/1"}}]'
start=$(date +%s%N)
code="$("${CURL[@]}" -o "$WORK/tok.json" -D "$WORK/hdrs" -w '%{http_code}' \
  --data-urlencode "grant_type=$JWT_GRANT" --data-urlencode "assertion=$(cv assert_ok)" "$BASE/token")"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$code" "200" "oauth_token status"
(( elapsed_ms >= 280 )) || fail "oauth_token ignored delay_ms (${elapsed_ms} ms)"
grep -qi '^content-type: application/json' "$WORK/hdrs" || fail "oauth_token content-type: $(cat "$WORK/hdrs")"
expect_eq "$(jget 'd' <"$WORK/tok.json")" '{"access_token": "fake-token-1", "expires_in": 3599, "token_type": "Bearer"}' "oauth_token body"
code="$("${CURL[@]}" --http2-prior-knowledge -o "$WORK/tok.json" -w '%{http_code}' \
  --data-urlencode "grant_type=$JWT_GRANT" --data-urlencode "assertion=$(cv assert_ok)" "$BASE/token")"
expect_eq "$code" "200" "oauth_token over HTTP/2"
expect_eq "$(jget 'd["access_token"]' <"$WORK/tok.json")" "fake-token-2" "token counter"
code="$("${CURL[@]}" -o "$WORK/tok.json" -D "$WORK/hdrs" -w '%{http_code}' \
  --data-urlencode "grant_type=$JWT_GRANT" --data-urlencode "assertion=$(cv assert_ok)" "$BASE/token2")"
expect_eq "$code $(jget '[d["access_token"], d["expires_in"]]' <"$WORK/tok.json")" '200 ["custom-tok", 60]' "access_token / expires_in"
grep -qi '^x-fake: 1' "$WORK/hdrs" || fail "oauth_token rule headers missing"
for bad in "grant_type=$JWT_GRANT&assertion=$(cv assert_other)|invalid JWT signature" \
           "grant_type=$JWT_GRANT&assertion=$(cv assert_es)|assertion alg must be RS256, got 'ES256'" \
           "grant_type=client_credentials&assertion=$(cv assert_ok)|grant_type must be $JWT_GRANT, got 'client_credentials'" \
           "grant_type=$JWT_GRANT|missing assertion" \
           "grant_type=$JWT_GRANT&assertion=x.y.z|assertion is not a decodable JWT"; do
  code="$("${CURL[@]}" -o "$WORK/tok.json" -w '%{http_code}' --data-binary "${bad%%|*}" "$BASE/token")"
  expect_eq "$code $(jget '[d["error"], d["error_description"]]' <"$WORK/tok.json")" \
    "400 [\"invalid_grant\", \"${bad#*|}\"]" "oauth_token rejects (${bad#*|})"
done
code="$("${CURL[@]}" -o "$WORK/tok.json" -w '%{http_code}' -H 'content-type: application/json' \
  --data-binary "grant_type=$JWT_GRANT&assertion=$(cv assert_ok)" "$BASE/token")"
expect_eq "$code" "400" "oauth_token needs a form body"
reset_fake   # issued tokens survive /reset
set_rules '[{"path_prefix": "/v1/", "bearer_token": {"issued": false}, "status": 401},
            {"path_prefix": "/v1/", "bearer_token": {"issued": true}, "status": 200, "json": {"name": "m"}}]'
codes=""
for auth in "Bearer fake-token-1" "bearer fake-token-2" "Bearer custom-tok" "Bearer fake-token-99" "Basic Zm9v" ""; do
  codes+="$("${CURL[@]}" -o /dev/null -w '%{http_code}' ${auth:+-H "Authorization: $auth"} -d '{}' "$BASE/v1/projects/p/messages:send") "
done
expect_eq "$codes" "200 200 200 401 401 401 " "bearer_token issued true/false"
code="$("${CURL[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H "authorization: Bearer fake-token-2" -d '{}' "$BASE/v1/x")"
expect_eq "$code" "200" "bearer_token over HTTP/2"
ok "oauth_token action (delay, counter, custom token, errors) and bearer_token"

# webpush_decrypt: RFC 8291 appendix A vector, a padded message, failures.
reset_fake
set_rules '[{"path": "/rfc", "status": 201, "webpush_decrypt": {
               "ua_private_key": "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
               "auth_secret": "BTBZMqHH6r4Tts7J_aSIgg"}},
            {"path_prefix": "/wp", "status": 201, "delay_ms": 500, "webpush_decrypt": {
               "ua_private_key": "'"$(cv wp_ua_priv)"'", "auth_secret": "'"$(cv wp_auth)"'"}}]'
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Encoding: aes128gcm' \
  -H 'content-type: application/octet-stream' --data-binary @"$CRYPTO/rfc_body" "$BASE/rfc")"
expect_eq "$code" "201" "webpush rule status"
expect_eq "$(last_req '["webpush_plaintext"]')" "When I grow up, I want to be a watermelon" "RFC 8291 appendix A plaintext"
# Delayed rule: /requests?wait_for must already see the decrypted field.
"${CURL[@]}" -o /dev/null --data-binary @"$CRYPTO/wp_body" "$BASE/wp1" &
bg=$!
ctl_get '/requests?wait_for=2&timeout_ms=5000' >"$WORK/reqs.json"
expect_eq "$(jget 'd["requests"][1]["webpush_plaintext"]' <"$WORK/reqs.json")" "$(cv wp_msg)" "padded message decrypted (seen by wait_for)"
wait "$bg" || fail "delayed webpush request failed"
"${CURL[@]}" --http2-prior-knowledge -o /dev/null --data-binary @"$CRYPTO/wp_body_bad" "$BASE/wp2" || fail "webpush bad body request"
expect_eq "$(last_req '["webpush_error"]')" "AES-GCM authentication failed (wrong keys, wrong key schedule or corrupted body)" "corrupted body"
expect_eq "$(last_req '.get("webpush_plaintext", "absent")')" "absent" "no plaintext on error"
"${CURL[@]}" -o /dev/null --data-binary @"$CRYPTO/wp_body_notlast" "$BASE/wp3" || fail "webpush notlast request"
expect_eq "$(last_req '["webpush_error"]')" "padding delimiter is 0x01, want 0x02 (last record)" "non-final record"
"${CURL[@]}" -o /dev/null -d 'short' "$BASE/wp4" || fail "webpush short request"
expect_eq "$(last_req '["webpush_error"]')" "body (5 bytes) is shorter than the aes128gcm header" "short body"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' --data-binary @"$CRYPTO/wp_body" "$BASE/other")"
expect_eq "$code $(last_req '.get("webpush_plaintext", "absent")')" "200 absent" "no decryption unless the rule is chosen"
ok "webpush_decrypt (RFC 8291 vector, padding, errors)"

# Validation of the new keys.
for bad in '{"jwt": {"valid": "yes"}}' '{"jwt": {"valid": true, "source": "body"}}' \
           '{"jwt": {"valid": true, "source": "assertion"}}' '{"jwt": {"valid": true, "pem": "x"}}' \
           '{"jwt": {"valid": true, "public_key_pem": "not a pem"}}' '{"bearer_token": {"issued": 1}}' \
           '{"action": "oauth_token"}' '{"action": "oauth_token", "public_key_pem": '"$EC_PEM"'}' \
           '{"action": "oauth_token", "public_key_pem": '"$RSA_PEM"', "status": 200}' \
           '{"action": "oauth_token", "public_key_pem": '"$RSA_PEM"', "expires_in": "1"}' \
           '{"access_token": "t"}' '{"webpush_decrypt": {"ua_private_key": "AAAA", "auth_secret": "BTBZMqHH6r4Tts7J_aSIgg"}}' \
           '{"webpush_decrypt": {"auth_secret": "BTBZMqHH6r4Tts7J_aSIgg"}}' '{"jwt_valid": true}'; do
  code="$("${CURL[@]}" -o "$WORK/body" -w '%{http_code}' -X POST --data-binary "{\"rules\": [$bad]}" "http://127.0.0.1:$CTL/rules")"
  expect_eq "$code" "400" "rule rejected: $bad ($(cat "$WORK/body"))"
done
expect_eq "$(ctl_get /rules | jget 'len(d["rules"])')" "2" "rules unchanged after rejected POSTs"
ok "new rule keys validated"

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
