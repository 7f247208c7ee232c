#!/usr/bin/python3
"""Fake push-provider HTTP server for Herald's integration tests and demos.

Stands in for APNs, FCM, Web Push services and UnifiedPush distributors.
The provider port speaks HTTP/1.1 and HTTP/2 (h2 over TLS via ALPN, or
cleartext with prior knowledge); every request is recorded, and responses
are scripted through a small JSON control API. See README.md next to this
file for the full reference.

Only the standard library, the `h2` package (Debian: python3-h2) and, for the
JWT / OAuth2 / Web Push decryption checks, `cryptography` (Debian:
python3-cryptography) are used.
"""

import argparse
import asyncio
import base64
import functools
import hashlib
import hmac
import http
import json
import logging
import os
import signal
import socket
import ssl
import sys
import time
import urllib.parse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

try:
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import (
        encode_dss_signature)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    HAVE_CRYPTO = True
except ImportError:  # only the JWT / OAuth2 / Web Push checks need it
    HAVE_CRYPTO = False

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

MAX_LINE = 64 * 1024
MAX_HEAD = 256 * 1024
MAX_BODY = 64 * 1024 * 1024

# Headers that must not appear in an HTTP/2 response (RFC 9113 8.2.2).
H2_FORBIDDEN = {"connection", "keep-alive", "proxy-connection",
                "transfer-encoding", "upgrade"}

ACTIONS = ("respond", "reset", "goaway", "hang", "oauth_token")
MATCH_KEYS = ("path", "path_prefix", "method", "body_contains", "header",
              "jwt", "bearer_token")
OAUTH_KEYS = ("public_key_pem", "access_token", "expires_in")
RULE_KEYS = set(MATCH_KEYS) | set(OAUTH_KEYS) | {
    "times", "action", "status", "headers", "body", "body_b64", "json",
    "delay_ms", "error_code", "webpush_decrypt"}

JWT_SOURCES = ("authorization", "assertion")
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM_TYPE = "application/x-www-form-urlencoded"
B64URL_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

SUBJECT_NAMES = {
    "commonName": "CN", "countryName": "C", "localityName": "L",
    "stateOrProvinceName": "ST", "organizationName": "O",
    "organizationalUnitName": "OU", "streetAddress": "STREET",
    "domainComponent": "DC", "userId": "UID", "emailAddress": "emailAddress",
}

log = logging.getLogger("fake_provider")


class BadRequest(Exception):
    pass


class ConnectionGone(Exception):
    pass


def decode_text(raw):
    """Header values: UTF-8 if valid, Latin-1 otherwise (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def format_subject(cert):
    """RFC 4514-style subject string ("CN=x,O=y,C=z") from getpeercert()."""
    if not cert or "subject" not in cert:
        return None
    rdns = []
    for rdn in cert["subject"]:
        parts = []
        for name, value in rdn:
            value = str(value)
            esc = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
            if esc.startswith((" ", "#")):
                esc = "\\" + esc
            if esc.endswith(" ") and len(esc) > 1:
                esc = esc[:-1] + "\\ "
            parts.append("%s=%s" % (SUBJECT_NAMES.get(name, name), esc))
        rdns.append("+".join(parts))
    return ",".join(reversed(rdns))


# ---------------------------------------------------------------------------
# JWT (ES256 / RS256), OAuth2 assertions and Web Push (RFC 8291) decryption


def b64url_decode(text, strict=True):
    """base64url without padding (strict, as in JWS) or with optional
    padding (strict=False). Raises ValueError."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not strict:
        text = text.rstrip("=")
    if len(text) % 4 == 1 or not B64URL_ALPHABET.issuperset(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object_segment(segment):
    try:
        obj = json.loads(b64url_decode(segment).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


class JWT:
    """A compact JWS split into parts. header/claims are None when they do
    not decode to JSON objects; signature is None when it is not base64url."""

    def __init__(self, token):
        self.token = token
        self.header = self.claims = self.signature = None
        self.signing_input = b""
        parts = (token or "").split(".")
        if len(parts) != 3:
            return
        self.header = _json_object_segment(parts[0])
        self.claims = _json_object_segment(parts[1])
        try:
            self.signature = b64url_decode(parts[2])
        except ValueError:
            pass
        self.signing_input = (parts[0] + "." + parts[1]).encode("utf-8")

    def verifies(self, key):
        """True if the signature verifies with `key` under the header's alg
        (ES256 or RS256 only)."""
        if (not HAVE_CRYPTO or key is None or self.header is None
                or self.claims is None or self.signature is None):
            return False
        alg = self.header.get("alg")
        sig = self.signature
        try:
            if alg == "ES256":
                if (not isinstance(key, ec.EllipticCurvePublicKey)
                        or key.curve.name != "secp256r1" or len(sig) != 64):
                    return False
                der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                           int.from_bytes(sig[32:], "big"))
                key.verify(der, self.signing_input, ec.ECDSA(hashes.SHA256()))
            elif alg == "RS256":
                if not isinstance(key, rsa.RSAPublicKey):
                    return False
                key.verify(sig, self.signing_input, padding.PKCS1v15(),
                           hashes.SHA256())
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True

    def record(self, scheme, vapid_k=None):
        return {"scheme": scheme, "header": self.header,
                "claims": self.claims, "vapid_k": vapid_k}


class Authorization:
    """Parsed `authorization: Bearer X` or `vapid t=JWT, k=KEY` header."""

    def __init__(self, scheme, token, vapid_k=None):
        self.scheme = scheme  # "bearer" or "vapid"
        self.token = token    # the bearer token / the t= value (or None)
        self.vapid_k = vapid_k
        self.jwt = JWT(token)


def parse_authorization(value):
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return Authorization("bearer", rest.strip())
    if scheme == "vapid":
        params = {}
        for part in rest.split(","):
            name, sep, val = part.strip().partition("=")
            if sep:
                params.setdefault(name.strip().lower(), val.strip())
        return Authorization("vapid", params.get("t"), params.get("k"))
    return None


@functools.lru_cache(maxsize=64)
def load_public_key_pem(pem):
    """SubjectPublicKeyInfo PEM -> RSA or P-256 public key (ValueError)."""
    if not HAVE_CRYPTO:
        raise ValueError("python3-cryptography is not installed")
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except Exception:  # ValueError, UnsupportedAlgorithm, ...
        raise ValueError("public_key_pem is not a PEM SubjectPublicKeyInfo "
                         "public key")
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if (isinstance(key, ec.EllipticCurvePublicKey)
            and key.curve.name == "secp256r1"):
        return key
    raise ValueError("public_key_pem must be an RSA or P-256 public key")


def vapid_key(k):
    """base64url uncompressed P-256 point -> public key, or None."""
    if not HAVE_CRYPTO or not k:
        return None
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(k, strict=False))
    except ValueError:
        return None


def jwt_check(spec, req):
    """Does the JWT selected by a rule's "jwt" spec verify? (bool)"""
    if spec.get("source", "authorization") == "assertion":
        jwt = req.assertion_jwt
        key = load_public_key_pem(spec["public_key_pem"])
    else:
        auth = req.authorization
        if auth is None:
            return False
        jwt = auth.jwt
        if "public_key_pem" in spec:
            key = load_public_key_pem(spec["public_key_pem"])
        elif auth.scheme == "vapid":
            key = vapid_key(auth.vapid_k)
        else:
            key = None
    return jwt is not None and jwt.verifies(key)


class WebPushError(Exception):
    pass


def _hmac_sha256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def webpush_decrypt(spec, body):
    """RFC 8291 / RFC 8188 aes128gcm, one record. Returns the plaintext
    (str) or raises WebPushError."""
    if not HAVE_CRYPTO:
        raise WebPushError("python3-cryptography is not installed")
    if len(body) < 21:
        raise WebPushError("body (%d bytes) is shorter than the aes128gcm "
                           "header" % len(body))
    salt = body[:16]
    rs = int.from_bytes(body[16:20], "big")
    idlen = body[20]
    keyid = body[21:21 + idlen]
    if len(keyid) != idlen:
        raise WebPushError("body ends inside the keyid")
    if idlen != 65 or keyid[0] != 4:
        raise WebPushError("keyid must be the sender's 65-byte uncompressed "
                           "P-256 public key (idlen=%d)" % idlen)
    ciphertext = body[21 + idlen:]
    if rs < 18:
        raise WebPushError("record size %d is below the minimum 18" % rs)
    if len(ciphertext) > rs:
        raise WebPushError("ciphertext (%d bytes) is longer than rs (%d): "
                           "only one record is supported"
                           % (len(ciphertext), rs))
    if len(ciphertext) < 17:
        raise WebPushError("record (%d bytes) is too short for tag and "
                           "padding delimiter" % len(ciphertext))
    try:
        as_public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), keyid)
    except ValueError:
        raise WebPushError("keyid is not a valid P-256 point")
    ua_private = ec.derive_private_key(
        int.from_bytes(b64url_decode(spec["ua_private_key"], strict=False),
                       "big"), ec.SECP256R1())
    ua_public = ua_private.public_key().public_bytes(
        serialization.Encoding.X962,
        serialization.PublicFormat.UncompressedPoint)
    auth_secret = b64url_decode(spec["auth_secret"], strict=False)
    ecdh = ua_private.exchange(ec.ECDH(), as_public)
    prk_key = _hmac_sha256(auth_secret, ecdh)
    key_info = b"WebPush: info\x00" + ua_public + keyid
    ikm = _hmac_sha256(prk_key, key_info + b"\x01")
    prk = _hmac_sha256(salt, ikm)
    cek = _hmac_sha256(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac_sha256(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    try:
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    except InvalidTag:
        raise WebPushError("AES-GCM authentication failed (wrong keys, "
                           "wrong key schedule or corrupted body)")
    stripped = padded.rstrip(b"\x00")
    if not stripped:
        raise WebPushError("no padding delimiter (record is all zeros)")
    if stripped[-1] != 2:
        raise WebPushError("padding delimiter is 0x%02x, want 0x02 (last "
                           "record)" % stripped[-1])
    try:
        return stripped[:-1].decode("utf-8")
    except UnicodeDecodeError:
        raise WebPushError("plaintext is not valid UTF-8")


def _check_keys(obj, name, allowed):
    if not isinstance(obj, dict):
        raise ValueError("%s must be an object" % name)
    unknown = set(obj) - set(allowed)
    if unknown:
        raise ValueError("unknown %s keys: %s"
                         % (name, ", ".join(sorted(unknown))))


def _need_crypto(what):
    if not HAVE_CRYPTO:
        raise ValueError("%s needs python3-cryptography" % what)


def validate_crypto_keys(rule):
    """Validation of the jwt / bearer_token / webpush_decrypt / oauth_token
    rule keys."""
    action = rule.get("action", "respond")
    if "jwt" in rule:
        spec = rule["jwt"]
        _check_keys(spec, "jwt", ("valid", "public_key_pem", "source"))
        _need_crypto("jwt")
        if not isinstance(spec.get("valid"), bool):
            raise ValueError("jwt.valid must be true or false")
        source = spec.get("source", "authorization")
        if source not in JWT_SOURCES:
            raise ValueError("jwt.source must be one of %s" % (JWT_SOURCES,))
        if "public_key_pem" in spec:
            if not isinstance(spec["public_key_pem"], str):
                raise ValueError("jwt.public_key_pem must be a string")
            load_public_key_pem(spec["public_key_pem"])
        elif source == "assertion":
            raise ValueError("jwt.public_key_pem is required with source "
                             "assertion")
    if "bearer_token" in rule:
        spec = rule["bearer_token"]
        _check_keys(spec, "bearer_token", ("issued",))
        if not isinstance(spec.get("issued"), bool):
            raise ValueError("bearer_token.issued must be true or false")
    if "webpush_decrypt" in rule:
        spec = rule["webpush_decrypt"]
        _check_keys(spec, "webpush_decrypt", ("ua_private_key", "auth_secret"))
        _need_crypto("webpush_decrypt")
        for key, size in (("ua_private_key", 32), ("auth_secret", 16)):
            try:
                raw = b64url_decode(spec.get(key), strict=False)
            except (ValueError, TypeError, AttributeError):
                raw = None
            if raw is None or len(raw) != size:
                raise ValueError("webpush_decrypt.%s must be %d bytes, "
                                 "base64url" % (key, size))
        try:
            ec.derive_private_key(int.from_bytes(
                b64url_decode(spec["ua_private_key"], strict=False), "big"),
                ec.SECP256R1())
        except ValueError:
            raise ValueError("webpush_decrypt.ua_private_key is not a valid "
                             "P-256 scalar")
    if action == "oauth_token":
        _need_crypto("oauth_token")
        if not isinstance(rule.get("public_key_pem"), str):
            raise ValueError("action oauth_token needs public_key_pem")
        if not isinstance(load_public_key_pem(rule["public_key_pem"]),
                          rsa.RSAPublicKey):
            raise ValueError("oauth_token: public_key_pem must be an RSA "
                             "public key")
        if "access_token" in rule and (
                not isinstance(rule["access_token"], str)
                or not rule["access_token"]):
            raise ValueError("access_token must be a non-empty string")
        if "expires_in" in rule and (
                not isinstance(rule["expires_in"], int)
                or isinstance(rule["expires_in"], bool)
                or rule["expires_in"] < 0):
            raise ValueError("expires_in must be a non-negative integer")
        clash = {"status", "body", "body_b64", "json"} & set(rule)
        if clash:
            raise ValueError("action oauth_token builds its own answer; "
                             "remove %s" % ", ".join(sorted(clash)))
    else:
        extra = set(OAUTH_KEYS) & set(rule)
        if extra:
            raise ValueError("%s: only allowed with action oauth_token"
                             % ", ".join(sorted(extra)))


def validate_rule(rule):
    if not isinstance(rule, dict):
        raise ValueError("a rule must be a JSON object")
    unknown = set(rule) - RULE_KEYS
    if unknown:
        raise ValueError("unknown rule keys: %s" % ", ".join(sorted(unknown)))
    action = rule.get("action", "respond")
    if action not in ACTIONS:
        raise ValueError("bad action %r (want one of %s)" % (action, ACTIONS))
    for key in ("path", "path_prefix", "method", "body_contains", "body",
                "body_b64"):
        if key in rule and not isinstance(rule[key], str):
            raise ValueError("%s must be a string" % key)
    for key in ("header", "headers"):
        if key in rule and not isinstance(rule[key], dict):
            raise ValueError("%s must be an object" % key)
    for key in ("times", "status", "delay_ms", "error_code"):
        if key in rule and (not isinstance(rule[key], (int, float))
                            or isinstance(rule[key], bool) or rule[key] < 0):
            raise ValueError("%s must be a non-negative number" % key)
    if "status" in rule and not 100 <= int(rule["status"]) <= 999:
        raise ValueError("status must be in 100..999")
    if "body_b64" in rule:
        base64.b64decode(rule["body_b64"], validate=True)
    validate_crypto_keys(rule)


def rule_matches(rule, req, issued_tokens=frozenset()):
    if "path" in rule and req.path != rule["path"]:
        return False
    if "path_prefix" in rule and not req.path.startswith(rule["path_prefix"]):
        return False
    if "method" in rule and req.method.upper() != rule["method"].upper():
        return False
    if "body_contains" in rule:
        if rule["body_contains"] not in req.body.decode("utf-8", "replace"):
            return False
    for name, want in rule.get("header", {}).items():
        name = name.lower()
        if str(want) not in [v for n, v in req.headers if n == name]:
            return False
    if "bearer_token" in rule:
        token = req.bearer_token
        issued = token is not None and token in issued_tokens
        if issued != rule["bearer_token"]["issued"]:
            return False
    if "jwt" in rule:
        if jwt_check(rule["jwt"], req) != rule["jwt"]["valid"]:
            return False
    return True


class Request:
    def __init__(self, method, path, headers, body, protocol, conn,
                 stream_id):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.protocol = protocol
        self.conn = conn
        self.stream_id = stream_id

    def header_value(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None

    @functools.cached_property
    def authorization(self):
        """Parsed bearer / vapid authorization header, or None."""
        value = self.header_value("authorization")
        return parse_authorization(value) if value is not None else None

    @property
    def bearer_token(self):
        auth = self.authorization
        return auth.token if auth is not None and auth.scheme == "bearer" \
            else None

    @functools.cached_property
    def form(self):
        """{name: first value} for an x-www-form-urlencoded body, or None."""
        ctype = self.header_value("content-type") or ""
        if ctype.split(";")[0].strip().lower() != FORM_TYPE:
            return None
        form = {}
        for name, value in urllib.parse.parse_qsl(
                self.body.decode("utf-8", "replace"), keep_blank_values=True):
            form.setdefault(name, value)
        return form

    @functools.cached_property
    def assertion_jwt(self):
        form = self.form
        if form is None or "assertion" not in form:
            return None
        return JWT(form["assertion"])

    def record(self, seq):
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        rec = {
            "seq": seq,
            "method": self.method,
            "path": self.path,
            "headers": [[n, v] for n, v in self.headers],
            "body": text,
            "body_b64": base64.b64encode(self.body).decode("ascii"),
            "protocol": self.protocol,
            "tls": self.conn.tls,
            "client_cert_subject": self.conn.client_subject,
            "connection_id": self.conn.id,
            "stream_id": self.stream_id,
            "received_at": time.time(),
        }
        auth = self.authorization
        if auth is not None:
            rec["jwt"] = auth.jwt.record(auth.scheme, auth.vapid_k)
        if self.assertion_jwt is not None:
            rec["assertion_jwt"] = self.assertion_jwt.record("assertion")
        return rec


class Response:
    """What a rule asks for, resolved into status/headers/body."""

    def __init__(self, rule):
        rule = rule or {}
        self.action = rule.get("action", "respond")
        self.delay = float(rule.get("delay_ms", 0)) / 1000.0
        self.error_code = rule.get("error_code")
        self.status = int(rule.get("status", 200))
        self.headers = [(str(k), str(v))
                        for k, v in rule.get("headers", {}).items()]
        if "json" in rule:
            self.body = json.dumps(rule["json"]).encode("utf-8")
            if not self.has_header("content-type"):
                self.headers.append(("content-type", "application/json"))
        elif "body_b64" in rule:
            self.body = base64.b64decode(rule["body_b64"])
        else:
            self.body = str(rule.get("body", "")).encode("utf-8")
        if self.status < 200 or self.status in (204, 304):
            self.body = b""
            self.no_body = True
        else:
            self.no_body = False

    def has_header(self, name):
        return any(k.lower() == name for k, _ in self.headers)

    def final_headers(self):
        headers = [(k, v.replace("\r", " ").replace("\n", " "))
                   for k, v in self.headers]
        if not self.no_body and not self.has_header("content-length"):
            headers.append(("content-length", str(len(self.body))))
        return headers


class State:
    def __init__(self, args):
        self.args = args
        self.rules = []
        self.rules_used = []
        self.requests = []
        self.waiters = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.total_connections = 0
        self.max_streams = 0
        self.next_conn_id = 0
        self.conn_tasks = set()
        # OAuth2 access tokens issued by oauth_token rules (kept on /reset).
        self.issued_tokens = set()
        self.token_counter = 0

    # -- requests ---------------------------------------------------------
    def record(self, req):
        """Record a fully received request and choose its rule."""
        rec = req.record(len(self.requests) + 1)
        self.requests.append(rec)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        # jwt_valid / assertion_jwt_valid: checked with the first rule that
        # has a "jwt" key for that source.
        for source, field in (("authorization", "jwt_valid"),
                              ("assertion", "assertion_jwt_valid")):
            for rule in self.rules:
                spec = rule.get("jwt")
                if spec and spec.get("source", "authorization") == source:
                    rec[field] = jwt_check(spec, req)
                    break
        chosen = None
        for i, rule in enumerate(self.rules):
            times = rule.get("times")
            if times is not None and self.rules_used[i] >= times:
                continue
            if rule_matches(rule, req, self.issued_tokens):
                self.rules_used[i] += 1
                chosen = i
                break
        rule = self.rules[chosen] if chosen is not None else None
        # Everything that updates `rec` happens before waiters wake up.
        if rule is not None and "webpush_decrypt" in rule:
            try:
                rec["webpush_plaintext"] = webpush_decrypt(
                    rule["webpush_decrypt"], req.body)
            except WebPushError as e:
                rec["webpush_error"] = str(e)
        if rule is not None and rule.get("action") == "oauth_token":
            resp = self.oauth_token(rule, req)
        else:
            resp = Response(rule)
        for waiter in list(self.waiters):
            n, fut = waiter
            if len(self.requests) >= n and not fut.done():
                fut.set_result(None)
        log.info("#%d conn=%d %s %s %s -> rule %s: %s %s", rec["seq"],
                 req.conn.id, req.protocol, req.method, req.path,
                 chosen, resp.action, resp.status)
        return resp

    def oauth_token(self, rule, req):
        """A fake Google OAuth2 token endpoint (JWT bearer grant)."""
        form = req.form
        jwt = req.assertion_jwt
        error = None
        if form is None:
            error = "content-type must be %s" % FORM_TYPE
        elif form.get("grant_type") != JWT_BEARER_GRANT:
            error = "grant_type must be %s, got %r" % (
                JWT_BEARER_GRANT, form.get("grant_type"))
        elif jwt is None or not jwt.token:
            error = "missing assertion"
        elif jwt.header is None or jwt.claims is None:
            error = "assertion is not a decodable JWT"
        elif jwt.header.get("alg") != "RS256":
            error = "assertion alg must be RS256, got %r" % (
                jwt.header.get("alg"),)
        elif not jwt.verifies(load_public_key_pem(rule["public_key_pem"])):
            error = "invalid JWT signature"
        answer = {"headers": rule.get("headers", {}),
                  "delay_ms": rule.get("delay_ms", 0)}
        if error is not None:
            answer["status"] = 400
            answer["json"] = {"error": "invalid_grant",
                              "error_description": error}
        else:
            token = rule.get("access_token")
            if token is None:
                self.token_counter += 1
                token = "fake-token-%d" % self.token_counter
            self.issued_tokens.add(token)
            answer["status"] = 200
            answer["json"] = {"access_token": token,
                              "expires_in": rule.get("expires_in", 3599),
                              "token_type": "Bearer"}
        log.info("oauth_token: %s", error or "issued")
        return Response(answer)

    def done(self):
        self.in_flight -= 1

    def note_streams(self, n):
        self.max_streams = max(self.max_streams, n)

    async def wait_requests(self, n, timeout):
        if len(self.requests) >= n:
            return
        fut = asyncio.get_running_loop().create_future()
        waiter = (n, fut)
        self.waiters.append(waiter)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self.waiters.remove(waiter)

    def stats(self):
        return {
            "total": len(self.requests),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "total_connections": self.total_connections,
            "max_streams_per_connection": self.max_streams,
            "rules_used": list(self.rules_used),
        }

    def reset(self):
        self.rules = []
        self.rules_used = []
        self.requests = []
        self.max_in_flight = self.in_flight
        self.total_connections = 0
        self.max_streams = 0


# ---------------------------------------------------------------------------
# HTTP/1.1


class BufReader:
    """StreamReader wrapper with a push-back buffer (for protocol sniffing)."""

    def __init__(self, reader, initial=b""):
        self.reader = reader
        self.buf = bytearray(initial)

    async def fill(self):
        data = await self.reader.read(65536)
        if not data:
            raise ConnectionGone()
        self.buf += data

    async def readline(self):
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > MAX_LINE:
                raise BadRequest("line too long")
            start = len(self.buf)
            await self.fill()

    async def readexactly(self, n):
        while len(self.buf) < n:
            await self.fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def take(self):
        data = bytes(self.buf)
        self.buf.clear()
        return data


async def read_http1_request(rd, writer):
    """Returns (method, target, version, headers, body) or None on EOF."""
    try:
        line = await rd.readline()
        while line in (b"\r\n", b"\n"):
            line = await rd.readline()
    except ConnectionGone:
        return None
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest("bad request line")
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest("unsupported version")
    method = method.decode("ascii")
    target = decode_text(target)
    headers = []
    total = 0
    while True:
        line = await rd.readline()
        total += len(line)
        if total > MAX_HEAD:
            raise BadRequest("headers too large")
        if line in (b"\r\n", b"\n"):
            break
        line = line.rstrip(b"\r\n")
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise BadRequest("continuation without header")
            name, value = headers[-1]
            headers[-1] = (name, value + " " + decode_text(line.strip()))
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise BadRequest("bad header line")
        headers.append((name.decode("ascii").lower(),
                        decode_text(value.strip(b" \t"))))

    def values(n):
        return [v for k, v in headers if k == n]

    te = ",".join(values("transfer-encoding")).lower()
    codings = [c.strip() for c in te.split(",") if c.strip()]
    chunked = bool(codings) and codings[-1] == "chunked"
    if codings and not chunked:
        raise BadRequest("unsupported transfer-encoding")
    length = 0
    if not chunked and values("content-length"):
        lengths = {v.strip() for v in values("content-length")}
        if len(lengths) != 1:
            raise BadRequest("conflicting content-length")
        try:
            length = int(lengths.pop())
        except ValueError:
            raise BadRequest("bad content-length")
        if length < 0 or length > MAX_BODY:
            raise BadRequest("bad content-length")
    expect = ",".join(values("expect")).lower()
    if ("100-continue" in expect and version == b"HTTP/1.1"
            and (chunked or length > 0)):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if chunked:
        body = bytearray()
        while True:
            size_line = (await rd.readline()).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size < 0 or len(body) + size > MAX_BODY:
                raise BadRequest("bad chunk size")
            if size == 0:
                break
            body += await rd.readexactly(size)
            if (await rd.readline()).strip():
                raise BadRequest("bad chunk terminator")
        while (await rd.readline()) not in (b"\r\n", b"\n"):
            pass  # trailers are ignored
        body = bytes(body)
    else:
        body = await rd.readexactly(length)
    return method, target, version, headers, body


def http1_keep_alive(version, headers):
    tokens = set()
    for n, v in headers:
        if n == "connection":
            tokens.update(t.strip().lower() for t in v.split(","))
    if version == b"HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


def http1_response_bytes(status, headers, body, keep_alive, head=False):
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if not keep_alive:
        lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return data if head else data + body


async def send_http1_error(writer, status, message):
    body = json.dumps({"error": message}).encode("utf-8")
    writer.write(http1_response_bytes(
        status, [("content-type", "application/json"),
                 ("content-length", str(len(body)))], body, False))
    try:
        await writer.drain()
    except (ConnectionError, OSError):
        pass


class ProviderConn:
    def __init__(self, state, reader, writer):
        self.state = state
        self.reader = reader
        self.writer = writer
        state.next_conn_id += 1
        self.id = state.next_conn_id
        ssl_object = writer.get_extra_info("ssl_object")
        self.tls = ssl_object is not None
        self.alpn = ssl_object.selected_alpn_protocol() if self.tls else None
        self.client_subject = None
        if self.tls and state.args.client_ca:
            self.client_subject = format_subject(ssl_object.getpeercert())
        self.closed = asyncio.Event()

    async def run(self):
        peer = self.writer.get_extra_info("peername")
        log.info("conn=%d accepted from %s tls=%s alpn=%s subject=%s",
                 self.id, peer, self.tls, self.alpn, self.client_subject)
        rd = BufReader(self.reader)
        if self.alpn != "h2":
            # Sniff the HTTP/2 prior-knowledge preface.
            while len(rd.buf) < len(PREFACE) and PREFACE.startswith(rd.buf):
                data = await self.reader.read(len(PREFACE) - len(rd.buf))
                if not data:
                    return
                rd.buf += data
        if self.alpn == "h2" or rd.buf.startswith(PREFACE):
            await H2Handler(self, rd.take()).run()
        else:
            await self.run_http1(rd)

    async def run_http1(self, rd):
        state = self.state
        writer = self.writer
        while True:
            try:
                parsed = await read_http1_request(rd, writer)
            except BadRequest as e:
                log.info("conn=%d bad request: %s", self.id, e)
                await send_http1_error(writer, 400, str(e))
                return
            if parsed is None:
                return
            method, target, version, headers, body = parsed
            keep_alive = http1_keep_alive(version, headers)
            state.note_streams(1)
            req = Request(method, target, headers, body, "HTTP/1.1", self,
                          None)
            resp = state.record(req)
            try:
                if resp.delay:
                    await asyncio.sleep(resp.delay)
                if resp.action in ("reset", "goaway"):
                    return
                if resp.action == "hang":
                    # Keep the connection open; discard anything else sent.
                    while await self.reader.read(65536):
                        pass
                    return
                writer.write(http1_response_bytes(
                    resp.status, resp.final_headers(), resp.body, keep_alive,
                    head=(method == "HEAD")))
                await writer.drain()
            finally:
                state.done()
            if not keep_alive:
                return


# ---------------------------------------------------------------------------
# HTTP/2


class H2Stream:
    def __init__(self, stream_id, method, path, headers):
        self.id = stream_id
        self.method = method
        self.path = path
        self.headers = headers
        self.body = bytearray()
        self.task = None


class H2Handler:
    def __init__(self, conn, initial):
        self.conn = conn
        self.state = conn.state
        self.reader = conn.reader
        self.writer = conn.writer
        self.initial = initial
        self.streams = {}
        self.active = set()
        self.tasks = set()
        self.window_waiters = []
        self.closing = False
        config = h2.config.H2Configuration(client_side=False,
                                           header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS:
                    self.state.args.h2_max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
            })

    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def wake_senders(self):
        for fut in self.window_waiters:
            if not fut.done():
                fut.set_result(None)
        self.window_waiters = []

    async def wait_window(self):
        fut = asyncio.get_running_loop().create_future()
        self.window_waiters.append(fut)
        await fut

    def stream_finished(self, stream_id):
        self.streams.pop(stream_id, None)
        self.active.discard(stream_id)

    async def run(self):
        self.h2.initiate_connection()
        self.flush()
        data = self.initial
        try:
            while not self.closing:
                if data:
                    try:
                        events = self.h2.receive_data(data)
                    except h2.exceptions.ProtocolError as e:
                        log.info("conn=%d h2 protocol error: %s",
                                 self.conn.id, e)
                        self.flush()
                        return
                    for event in events:
                        self.handle_event(event)
                    self.flush()
                    if self.closing:
                        return
                data = await self.reader.read(65536)
                if not data:
                    return
        finally:
            self.closing = True
            self.wake_senders()
            for task in list(self.tasks):
                task.cancel()
            self.active.clear()

    def handle_event(self, event):
        if isinstance(event, h2.events.RequestReceived):
            method = path = ""
            headers = []
            authority = None
            for name, value in event.headers:
                name = name.decode("latin-1").lower()
                value = decode_text(value)
                if name == ":method":
                    method = value
                elif name == ":path":
                    path = value
                else:
                    if name == ":authority":
                        authority = value
                    headers.append((name, value))
            if authority is not None and not any(
                    n == "host" for n, _ in headers):
                headers.append(("host", authority))
            self.streams[event.stream_id] = H2Stream(
                event.stream_id, method, path, headers)
            self.active.add(event.stream_id)
            self.state.note_streams(len(self.active))
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.body += event.data
                if len(stream.body) > MAX_BODY:
                    self.h2.reset_stream(event.stream_id,
                                         h2.errors.ErrorCodes.REFUSED_STREAM)
                    self.stream_finished(event.stream_id)
            if event.flow_controlled_length:
                self.h2.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.task is None:
                req = Request(stream.method, stream.path, stream.headers,
                              bytes(stream.body), "HTTP/2", self.conn,
                              stream.id)
                stream.body = None
                resp = self.state.record(req)
                task = asyncio.get_running_loop().create_task(
                    self.respond(stream, resp))
                stream.task = task
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.task is not None:
                stream.task.cancel()
            self.stream_finished(event.stream_id)
            self.wake_senders()
        elif isinstance(event, (h2.events.WindowUpdated,
                                h2.events.RemoteSettingsChanged)):
            self.wake_senders()
        elif isinstance(event, h2.events.ConnectionTerminated):
            log.info("conn=%d client sent GOAWAY (error %s)", self.conn.id,
                     event.error_code)
            self.closing = True

    async def respond(self, stream, resp):
        sid = stream.id
        try:
            if resp.delay:
                await asyncio.sleep(resp.delay)
            if self.closing:
                return
            if resp.action == "reset":
                code = resp.error_code
                if code is None:
                    code = h2.errors.ErrorCodes.INTERNAL_ERROR
                self.h2.reset_stream(sid, int(code))
                self.flush()
            elif resp.action == "goaway":
                self.h2.close_connection(
                    error_code=int(resp.error_code or 0),
                    last_stream_id=max(0, sid - 2))
                self.flush()
                self.closing = True
                self.writer.close()
            elif resp.action == "hang":
                await self.conn.closed.wait()
            else:
                await self.send_response(stream, resp)
        except h2.exceptions.StreamClosedError:
            log.info("conn=%d stream %d closed by the client", self.conn.id,
                     sid)
        except (h2.exceptions.ProtocolError, ValueError) as e:
            # E.g. a rule header h2 refuses to send: fail just this stream.
            log.error("conn=%d stream %d: cannot respond: %r", self.conn.id,
                      sid, e)
            try:
                self.h2.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
                self.flush()
            except h2.exceptions.H2Error:
                pass
        except (ConnectionError, OSError) as e:
            log.info("conn=%d stream %d: %r", self.conn.id, sid, e)
        finally:
            self.stream_finished(sid)
            self.state.done()

    async def send_response(self, stream, resp):
        sid = stream.id
        headers = [(":status", str(resp.status))]
        for name, value in resp.final_headers():
            name = name.lower()
            if name not in H2_FORBIDDEN:
                headers.append((name, value))
        headers = [(n.encode("utf-8"), v.encode("utf-8")) for n, v in headers]
        body = b"" if stream.method == "HEAD" else resp.body
        if not body:
            self.h2.send_headers(sid, headers, end_stream=True)
            self.flush()
            return
        self.h2.send_headers(sid, headers)
        self.flush()
        view = memoryview(body)
        offset = 0
        while offset < len(body):
            if self.closing:
                return
            size = min(self.h2.local_flow_control_window(sid),
                       self.h2.max_outbound_frame_size, len(body) - offset)
            if size <= 0:
                await self.wait_window()
                continue
            end = offset + size
            self.h2.send_data(sid, bytes(view[offset:end]),
                              end_stream=(end == len(body)))
            offset = end
            self.flush()
            await self.writer.drain()


# ---------------------------------------------------------------------------
# Control API


def json_response(status, obj):
    return status, json.dumps(obj).encode("utf-8")


class Control:
    def __init__(self, state):
        self.state = state

    async def handle_conn(self, reader, writer):
        rd = BufReader(reader)
        try:
            while True:
                try:
                    parsed = await read_http1_request(rd, writer)
                except BadRequest as e:
                    await send_http1_error(writer, 400, str(e))
                    return
                if parsed is None:
                    return
                method, target, version, headers, body = parsed
                keep_alive = http1_keep_alive(version, headers)
                try:
                    status, out = await self.dispatch(method, target, body)
                except Exception as e:  # never let a bad call kill us
                    log.exception("control %s %s failed", method, target)
                    status, out = json_response(500, {"error": str(e)})
                writer.write(http1_response_bytes(
                    status, [("content-type", "application/json"),
                             ("content-length", str(len(out)))],
                    out, keep_alive, head=(method == "HEAD")))
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionGone, ConnectionError, OSError,
                asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("control connection failed")
        finally:
            writer.close()

    async def dispatch(self, method, target, body):
        state = self.state
        url = urllib.parse.urlsplit(target)
        path = url.path
        query = urllib.parse.parse_qs(url.query)
        routes = {
            "/health": ("GET",), "/rules": ("GET", "POST"),
            "/rules/append": ("POST",), "/requests": ("GET",),
            "/stats": ("GET",), "/reset": ("POST",),
        }
        if path not in routes:
            return json_response(404, {"error": "not found", "path": path})
        if method not in routes[path] and not (
                method == "HEAD" and "GET" in routes[path]):
            return json_response(405, {"error": "method not allowed"})
        if path == "/health":
            return json_response(200, {"ok": True})
        if path == "/stats":
            return json_response(200, state.stats())
        if path == "/reset":
            state.reset()
            log.info("control: reset")
            return json_response(200, {"ok": True})
        if path == "/rules" and method != "POST":
            return json_response(200, {"rules": state.rules,
                                       "rules_used": state.rules_used})
        if path in ("/rules", "/rules/append"):
            try:
                doc = json.loads(body.decode("utf-8") or "null")
                rules = doc.get("rules") if isinstance(doc, dict) else doc
                if not isinstance(rules, list):
                    raise ValueError('expected {"rules": [...]}')
                for rule in rules:
                    validate_rule(rule)
            except (ValueError, UnicodeDecodeError) as e:
                return json_response(400, {"error": str(e)})
            if path == "/rules":
                state.rules = list(rules)
                state.rules_used = [0] * len(rules)
            else:
                state.rules.extend(rules)
                state.rules_used.extend([0] * len(rules))
            log.info("control: %d rules", len(state.rules))
            return json_response(200, {"ok": True,
                                       "rules": len(state.rules)})
        if path == "/requests":
            try:
                wait_for = int(query.get("wait_for", ["0"])[0])
                timeout_ms = float(query.get("timeout_ms", ["10000"])[0])
            except ValueError:
                return json_response(400, {"error": "bad query"})
            if wait_for > 0:
                await state.wait_requests(wait_for,
                                          max(0.0, timeout_ms) / 1000.0)
            return json_response(200, {"requests": state.requests})
        return json_response(404, {"error": "not found"})


# ---------------------------------------------------------------------------
# Server setup


def parse_hostport(text, option):
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise SystemExit("%s: bad HOST:PORT %r" % (option, text))
    elif ":" in text:
        host, _, port = text.rpartition(":")
    else:
        host, port = "127.0.0.1", text
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise SystemExit("%s: bad port in %r" % (option, text))


def bind_socket(host, port):
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    family, socktype, proto, _, addr = infos[0]
    sock = socket.socket(family, socktype, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(addr)
    sock.listen(512)
    sock.setblocking(False)
    return sock


def make_ssl_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=args.client_ca)
    return ctx


def loop_exception_handler(loop, context):
    exc = context.get("exception")
    if isinstance(exc, (ConnectionError, ssl.SSLError, OSError,
                        asyncio.CancelledError)):
        log.debug("asyncio: %s: %r", context.get("message"), exc)
    else:
        log.error("asyncio: %s: %r", context.get("message"), exc)


async def main_async(args):
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(loop_exception_handler)
    state = State(args)
    control = Control(state)
    ssl_ctx = make_ssl_context(args) if args.tls_cert else None

    async def on_provider(reader, writer):
        conn = ProviderConn(state, reader, writer)
        task = asyncio.current_task()
        state.conn_tasks.add(task)
        state.connections += 1
        state.total_connections += 1
        try:
            await conn.run()
        except (ConnectionGone, ConnectionError, OSError,
                asyncio.IncompleteReadError) as e:
            log.info("conn=%d closed: %r", conn.id, e)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("conn=%d failed", conn.id)
        finally:
            conn.closed.set()
            state.connections -= 1
            state.conn_tasks.discard(task)
            log.info("conn=%d closed", conn.id)
            try:
                writer.close()
            except Exception:
                pass

    async def on_control(reader, writer):
        task = asyncio.current_task()
        state.conn_tasks.add(task)
        try:
            await control.handle_conn(reader, writer)
        except asyncio.CancelledError:
            pass
        finally:
            state.conn_tasks.discard(task)

    phost, pport = parse_hostport(args.listen, "--listen")
    chost, cport = parse_hostport(args.control, "--control")
    provider = await asyncio.start_server(
        on_provider, sock=bind_socket(phost, pport), ssl=ssl_ctx,
        ssl_handshake_timeout=10 if ssl_ctx else None)
    ctl = await asyncio.start_server(on_control,
                                     sock=bind_socket(chost, cport))
    ports = {"port": provider.sockets[0].getsockname()[1],
             "control_port": ctl.sockets[0].getsockname()[1]}
    line = json.dumps(ports)
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, args.ready_file)
    print(line, flush=True)
    log.info("listening: %s (tls=%s client_ca=%s)", line, bool(ssl_ctx),
             bool(args.client_ca))

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    provider.close()
    ctl.close()
    for task in list(state.conn_tasks):
        task.cancel()
    await asyncio.sleep(0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:0",
                   help="provider HOST:PORT (default 127.0.0.1:0)")
    p.add_argument("--control", default="127.0.0.1:0",
                   help="control API HOST:PORT (default 127.0.0.1:0)")
    p.add_argument("--tls-cert", help="PEM certificate (chain) for TLS")
    p.add_argument("--tls-key", help="PEM private key for TLS")
    p.add_argument("--client-ca",
                   help="with TLS: require client certs signed by this CA")
    p.add_argument("--ready-file", help="write the ports JSON here")
    p.add_argument("--log-file", help="log connections and requests here")
    p.add_argument("--h2-max-concurrent-streams", type=int, default=1000,
                   help="SETTINGS_MAX_CONCURRENT_STREAMS (default 1000)")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert/--tls-key")

    handler = (logging.FileHandler(args.log_file) if args.log_file
               else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if args.log_file else logging.ERROR)
    log.propagate = False
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
