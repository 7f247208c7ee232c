#!/usr/bin/env python3
"""Checks the Kubernetes base in deploy/kubernetes against the built binaries.

    check_manifests.py --bridge BRIDGE --dispatcher DISPATCHER [FILE...]

FILE... are the base's files (kustomization.yaml among them, the others next
to it); without them the base is deploy/kubernetes next to this script.
Through Bazel (`bazel test //tests/deploy:check_manifests`) everything comes
as runfiles paths in the arguments (tests/deploy/BUILD.bazel). By hand:

    python3 tests/deploy/check_manifests.py \
        --bridge bazel-bin/bridge/herald-bridge \
        --dispatcher bazel-bin/dispatcher/herald-dispatcher

It reads kustomization.yaml the way kustomize would for what the base uses
(`resources` files and a `configMapGenerator` with `files`; anything else
fails, so that a new kustomize feature gets a check here too), then checks:

  - the containers' flags are ones the binaries' --help lists, and their
    image tag is the binaries' --version;
  - the config in the ConfigMap loads: `herald-dispatcher --check-config` on
    it, with every file under /etc/herald/ replaced by a stand-in made here
    (real EC P-256 keys from the openssl CLI, certificates where a
    certificate is asked for), exits 0 with no warning on stderr (an
    unknown or unsupported key is a warning);
  - the containers' ports are the config's listen ports, the services
    listen on all addresses, the probes ask the right paths on the right
    ports (gRPC health on the dispatcher's gRPC port);
  - dispatcher.target names the headless Service that selects the
    dispatcher pods, on its port; the bridge's Service selects the bridge
    pods and reaches http.port; every PodDisruptionBudget selects one
    Deployment's pods and lets one go;
  - securityContext (non-root 65532, read-only root, no privilege
    escalation, no capabilities, RuntimeDefault seccomp) on every pod and
    container;
  - terminationGracePeriodSeconds outlasts each service's drain;
  - every ConfigMap and Secret the pods mount exists (the Secrets in
    secrets.example.yaml, which is not part of the base), and every file
    the config names under /etc/herald/ is mounted where the config says;
  - the real herald-bridge starts on the ConfigMap's config (ports moved to
    free loopback ports), answers GET /health with 200 and GET /ready with
    a 503 Matrix error (no dispatcher runs), serves /metrics on its metrics
    port, writes JSON log lines with no warning, and exits 0 on SIGTERM.

Every failed check prints a line starting with FAIL; the exit status is 1
if any failed.
"""

import argparse
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

KUSTOMIZATION = "kustomization.yaml"
SECRETS_EXAMPLE = "secrets.example.yaml"
ETC = "/etc/herald/"
BINARIES = ("herald-bridge", "herald-dispatcher")
# After dispatcher.deadline the dispatcher waits up to this long for pushes
# still out on the apps' HTTP clients before it exits (dispatcher/main.cc).
DISPATCHER_REAPER_WAIT = 5
WILDCARDS = ("0.0.0.0", "::", "[::]", "")


class Checks:
    def __init__(self):
        self.failed = 0

    def ok(self, what):
        print(f"ok - {what}")

    def fail(self, what):
        self.failed += 1
        print(f"FAIL: {what}")

    def expect(self, cond, ok_text, fail_text):
        if cond:
            self.ok(ok_text)
        else:
            self.fail(fail_text)
        return cond


class Fatal(Exception):
    """A failure after which the remaining checks make no sense."""


# --- reading the base --------------------------------------------------------


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_base(kustomization_path):
    base = os.path.dirname(kustomization_path)
    with open(kustomization_path, encoding="utf-8") as f:
        kust = yaml.safe_load(f) or {}
    known = {"apiVersion", "kind", "resources", "configMapGenerator"}
    unknown = sorted(set(kust) - known)
    if unknown:
        raise Fatal(
            f"{KUSTOMIZATION}: check_manifests.py does not understand {', '.join(unknown)}; "
            "teach it what kustomize does with them before using them"
        )
    objects = []
    for res in kust.get("resources", []):
        path = os.path.join(base, res)
        if not os.path.isfile(path):
            raise Fatal(f"{KUSTOMIZATION}: resource {res} is not a file in {base}")
        if os.path.basename(res) == SECRETS_EXAMPLE:
            raise Fatal(f"{KUSTOMIZATION}: {SECRETS_EXAMPLE} must not be a resource (the operator creates the Secrets)")
        for doc in load_yaml_docs(path):
            doc["_source"] = res
            objects.append(doc)
    for gen in kust.get("configMapGenerator", []):
        extra = sorted(set(gen) - {"name", "files", "literals"})
        if extra:
            raise Fatal(f"{KUSTOMIZATION}: configMapGenerator {gen.get('name')}: not understood: {', '.join(extra)}")
        data = {}
        for entry in gen.get("files", []):
            key, _, file = entry.partition("=") if "=" in entry else (os.path.basename(entry), "", entry)
            with open(os.path.join(base, file), encoding="utf-8") as f:
                data[key] = f.read()
        for literal in gen.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        objects.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data,
             "_source": f"{KUSTOMIZATION} configMapGenerator"}
        )
    index = {}
    for obj in objects:
        key = (obj.get("kind"), obj.get("metadata", {}).get("name"))
        if key in index:
            raise Fatal(f"{key[0]} {key[1]} is declared twice ({index[key]['_source']}, {obj['_source']})")
        index[key] = obj
    return base, objects, index


def of_kind(objects, kind):
    return [o for o in objects if o.get("kind") == kind]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- the binaries ------------------------------------------------------------


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def help_flags(binary):
    out = run([binary, "--help"])
    text = out.stdout + out.stderr
    return set(re.findall(r"^\s+--([A-Za-z0-9_]+) \(", text, re.M))


def version_of(binary):
    out = run([binary, "--version"])
    words = out.stdout.split()
    return words[1] if out.returncode == 0 and len(words) == 2 else None


def flag_names(argv):
    names = []
    for a in argv:
        if a.startswith("--"):
            names.append(a[2:].split("=", 1)[0])
    return names


def flag_value(argv, name):
    spellings = {f"--{name}", f"--{name.replace('_', '-')}"}
    for i, a in enumerate(argv):
        head, eq, value = a.partition("=")
        if head in spellings:
            if eq:
                return value
            if i + 1 < len(argv):
                return argv[i + 1]
    return None


def warning_lines(stderr):
    """Log lines at WARN or above (text or JSON format) and sanitizer reports."""
    bad = []
    for line in stderr.splitlines():
        s = line.strip()
        if not s:
            continue
        level = None
        if s.startswith("{"):
            try:
                level = json.loads(s).get("level")
            except ValueError:
                pass
        else:
            m = re.match(r"^\S+ (DEBUG|INFO|WARN|ERROR) ", s)
            level = m.group(1) if m else None
        if level in ("WARN", "ERROR") or "unknown key" in s or re.search(r"(Sanitizer|runtime error)", s):
            bad.append(s)
    return bad


# --- the config --------------------------------------------------------------


def host_port(address, what):
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise Fatal(f"{what}: '{address}' is not host:port")
    return host.strip("[]"), int(port)


class Ports:
    """The listen addresses the config gives, with Herald's defaults."""

    def __init__(self, config):
        http = config.get("http") or {}
        prom = (config.get("metrics") or {}).get("prometheus") or {}
        disp = config.get("dispatcher") or {}
        self.http_port = int(http.get("port", 5000))
        self.bind_addresses = http.get("bind_addresses") or ["127.0.0.1"]
        self.prometheus_enabled = bool(prom.get("enabled", False))
        self.prometheus_address = str(prom.get("address", "127.0.0.1"))
        self.prometheus_port = int(prom.get("port", 8000))
        self.listen_host, self.listen_port = host_port(str(disp.get("listen", "127.0.0.1:50051")), "dispatcher.listen")
        self.metrics_listen = str(disp.get("metrics_listen", "") or "")
        self.metrics_host, self.metrics_port = (
            host_port(self.metrics_listen, "dispatcher.metrics_listen") if self.metrics_listen else (None, None)
        )
        self.target = str(disp.get("target", "dns:///127.0.0.1:50051"))
        self.drain_timeout = float(http.get("drain_timeout", 20))
        self.deadline = float(disp.get("deadline", 10))
        self.tls = disp.get("tls")

    def bridge_ports(self):
        ports = {self.http_port}
        if self.prometheus_enabled:
            ports.add(self.prometheus_port)
        return ports

    def dispatcher_ports(self):
        ports = {self.listen_port}
        if self.metrics_port is not None:
            ports.add(self.metrics_port)
        return ports


def parse_target(target):
    """dns:///HOST:PORT, dns://AUTHORITY/HOST:PORT or HOST:PORT → (host, port)
    (the forms the bridge re-resolves, bridge/dispatcher_target.h)."""
    m = re.fullmatch(r"(?:dns:(?://[^/]*)?/)?([A-Za-z0-9.-]+):(\d+)", target)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def etc_paths(node, path=""):
    """(dotted key, value) for every string under /etc/herald/ in the config."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from etc_paths(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from etc_paths(v, f"{path}[{i}]")
    elif isinstance(node, str) and node.startswith(ETC):
        yield path, node


def replace_values(node, mapping):
    if isinstance(node, dict):
        return {k: replace_values(v, mapping) for k, v in node.items()}
    if isinstance(node, list):
        return [replace_values(v, mapping) for v in node]
    if isinstance(node, str) and node in mapping:
        return mapping[node]
    return node


class StandIns:
    """Stand-in files for the config's /etc/herald/ paths, made with openssl."""

    def __init__(self, workdir, tls_names):
        self.dir = workdir
        self.tls_names = tls_names
        self.made = {}
        self.tls = None

    def openssl(self, *args):
        out = run(["openssl", *args])
        if out.returncode != 0:
            raise Fatal(f"openssl {' '.join(args)}: {out.stderr.strip()}")

    def file(self, name):
        return os.path.join(self.dir, name)

    def ec_sec1(self, out):  # README: openssl ecparam -name prime256v1 -genkey -noout
        self.openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", out)

    def ec_pkcs8(self, out):  # Apple's .p8: EC P-256 in PKCS#8 PEM
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out)

    def self_signed(self, key, cert, cn):
        self.ec_pkcs8(key)
        self.openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "30", "-subj", f"/CN={cn}")

    def internal_tls(self):
        """A CA and one certificate for both ends of the bridge→dispatcher hop."""
        if self.tls is None:
            ca_key, ca, key, csr, cert, ext = (self.file(n) for n in (
                "tls-ca.key", "tls-ca.pem", "tls.key", "tls.csr", "tls.pem", "tls.ext"))
            self.self_signed(ca_key, ca, "herald test CA")
            self.ec_pkcs8(key)
            self.openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=herald-dispatcher")
            sans = ",".join([f"DNS:{n}" for n in self.tls_names] + ["DNS:localhost", "IP:127.0.0.1"])
            with open(ext, "w") as f:
                f.write(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n")
            self.openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                         "-out", cert, "-days", "30", "-extfile", ext)
            self.tls = {"cert_file": cert, "key_file": key, "ca_file": ca}
        return self.tls

    def make(self, key_path, original):
        if original in self.made:
            return self.made[original]
        leaf = key_path.rsplit(".", 1)[-1]
        out = self.file(f"standin-{len(self.made)}-{os.path.basename(original)}")
        if key_path.startswith("dispatcher.tls.") and leaf in ("cert_file", "key_file", "ca_file"):
            shutil.copyfile(self.internal_tls()[leaf], out)
        elif leaf == "vapid_private_key":
            self.ec_sec1(out)
        elif leaf == "keyfile":
            self.ec_pkcs8(out)
        elif leaf == "certfile":  # APNs certificate auth: certificate and key in one PEM
            k, c = out + ".key", out + ".crt"
            self.self_signed(k, c, "herald test APNs client")
            with open(out, "w") as f:
                f.write(open(c).read() + open(k).read())
        elif leaf == "ca_file":
            self.self_signed(out + ".key", out, "herald test CA")
        elif leaf == "service_account_file":
            k = out + ".key"
            self.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k)
            with open(out, "w") as f:
                json.dump({"type": "service_account", "project_id": "herald-test",
                           "client_email": "herald@herald-test.iam.gserviceaccount.com",
                           "private_key": open(k).read(), "token_uri": "https://oauth2.googleapis.com/token"}, f)
        else:
            raise Fatal(f"{key_path}: {original}: check_manifests.py knows no stand-in for this key; add one")
        self.made[original] = out
        return out


# --- the checks --------------------------------------------------------------


def containers_of(deployment):
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec.get("containers", [])


def binary_of(container):
    command = container.get("command") or []
    return os.path.basename(command[0]) if command else None


def port_number(container, port):
    """A probe's or Service's port (number or name) → the container port number."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def mounted_file(pod_spec, container, path, configmaps, secrets):
    """Where `path` comes from in this container: a description, or None."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if m.get("subPath"):
            if mp == path:
                best = (m, m["subPath"])
        elif path.startswith(mp + "/") and (best is None or len(mp) > len(best[0]["mountPath"])):
            best = (m, path[len(mp) + 1:])
    if best is None:
        return None
    mount, key = best
    vol = volumes.get(mount["name"], {})
    if "configMap" in vol:
        source = configmaps.get(vol["configMap"].get("name"), {}).get("data", {})
        items = vol["configMap"].get("items")
        kind, name = "ConfigMap", vol["configMap"].get("name")
    elif "secret" in vol:
        secret = secrets.get(vol["secret"].get("secretName"), {})
        source = dict(secret.get("data") or {}, **(secret.get("stringData") or {}))
        items = vol["secret"].get("items")
        kind, name = "Secret", vol["secret"].get("secretName")
    else:
        return None
    if items:  # the key appears under the item's path
        by_path = {i["path"]: i["key"] for i in items}
        key = by_path.get(key)
    if key is None or key not in source:
        return None
    return f"{kind} {name}, key {key}"


def check_static(c, objects, secrets, bins, config, config_text):
    ports = Ports(config)
    deployments = {}
    for d in of_kind(objects, "Deployment"):
        kinds = {binary_of(ct) for ct in containers_of(d)}
        for b in BINARIES:
            if b in kinds:
                if b in deployments:
                    c.fail(f"Deployments {deployments[b]['metadata']['name']} and {d['metadata']['name']} both run {b}")
                deployments[b] = d
    for b in BINARIES:
        if b not in deployments:
            raise Fatal(f"no Deployment runs /usr/local/bin/{b} (a container's command)")
    bridge_d, disp_d = deployments["herald-bridge"], deployments["herald-dispatcher"]
    pod_labels = {b: d["spec"]["template"]["metadata"].get("labels", {}) for b, d in deployments.items()}
    configmaps = {o["metadata"]["name"]: o for o in of_kind(objects, "ConfigMap")}

    # Deployments: selectors, flags, images.
    for b, d in deployments.items():
        name = d["metadata"]["name"]
        sel = d["spec"].get("selector", {}).get("matchLabels", {})
        c.expect(selects(sel, pod_labels[b]), f"{name}: its selector matches its pod template",
                 f"{name}: spec.selector {sel} does not match the pod labels {pod_labels[b]}")
        other = [o for o in BINARIES if o != b][0]
        c.expect(not selects(sel, pod_labels[other]), f"{name}: its selector does not take {other} pods",
                 f"{name}: spec.selector {sel} also matches the {other} pods")
        for ct in containers_of(d):
            binary = binary_of(ct)
            if binary not in bins:
                c.fail(f"{name}/{ct['name']}: command {ct.get('command')} is not herald-bridge or herald-dispatcher")
                continue
            argv = (ct.get("command") or [])[1:] + (ct.get("args") or [])
            known = bins[binary]["flags"]
            unknown = [f for f in flag_names(argv) if f.replace("-", "_") not in known]
            c.expect(not unknown, f"{name}/{ct['name']}: flags {flag_names(argv)} are in {binary} --help",
                     f"{name}/{ct['name']}: {binary} --help does not list {', '.join('--' + u for u in unknown)}")
            image = ct.get("image", "")
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
            version = bins[binary]["version"]
            c.expect(tag is not None and tag == version, f"{name}/{ct['name']}: image {image} matches {binary} {version}",
                     f"{name}/{ct['name']}: image {image!r} but {binary} --version says {version}")

    # The config: the same file for both, from a ConfigMap.
    for b, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        for ct in spec["containers"]:
            argv = (ct.get("command") or [])[1:] + (ct.get("args") or [])
            path = flag_value(argv, "config")
            if path is None:
                c.fail(f"{d['metadata']['name']}/{ct['name']}: no --config (the default, ./sygnal.yaml, is not mounted)")
                continue
            where = mounted_file(spec, ct, path, configmaps, secrets)
            text = None
            if where and where.startswith("ConfigMap "):
                cm_name, key = re.match(r"ConfigMap (\S+), key (\S+)", where).groups()
                text = configmaps[cm_name]["data"][key]
            c.expect(text == config_text, f"{d['metadata']['name']}/{ct['name']}: --config {path} is the config checked here ({where})",
                     f"{d['metadata']['name']}/{ct['name']}: --config {path} is not the ConfigMap's config file ({where or 'not mounted'})")

    # Listen addresses and container ports.
    c.expect(any(a in WILDCARDS for a in ports.bind_addresses), "http.bind_addresses listens on all addresses",
             f"http.bind_addresses {ports.bind_addresses}: the pod would not be reachable (use 0.0.0.0 or ::)")
    c.expect(ports.prometheus_enabled, "metrics.prometheus is enabled",
             "metrics.prometheus.enabled is not true: the bridge's metrics port serves nothing")
    if ports.prometheus_enabled:
        c.expect(ports.prometheus_address in WILDCARDS, "metrics.prometheus.address listens on all addresses",
                 f"metrics.prometheus.address {ports.prometheus_address}: Prometheus could not scrape the pod")
    c.expect(ports.listen_host in WILDCARDS, "dispatcher.listen listens on all addresses",
             f"dispatcher.listen {ports.listen_host}: the bridges could not reach the pod")
    c.expect(ports.metrics_port is not None and ports.metrics_host in WILDCARDS,
             "dispatcher.metrics_listen listens on all addresses",
             f"dispatcher.metrics_listen '{ports.metrics_listen}': Prometheus could not scrape the dispatcher")
    expected = {"herald-bridge": ports.bridge_ports(), "herald-dispatcher": ports.dispatcher_ports()}
    main = {}
    for b, d in deployments.items():
        ct = [x for x in d["spec"]["template"]["spec"]["containers"] if binary_of(x) == b][0]
        main[b] = ct
        got = {p.get("containerPort") for p in ct.get("ports", [])}
        c.expect(got == expected[b], f"{d['metadata']['name']}: containerPorts {sorted(got)} are the config's listen ports",
                 f"{d['metadata']['name']}: containerPorts {sorted(got)}, the config listens on {sorted(expected[b])}")

    # Probes.
    bct = main["herald-bridge"]
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        get = (bct.get(probe) or {}).get("httpGet") or {}
        port = port_number(bct, get.get("port"))
        c.expect(get.get("path") == path and port == ports.http_port and get.get("scheme", "HTTP") == "HTTP",
                 f"herald-bridge {probe}: GET {path} on http.port {ports.http_port}",
                 f"herald-bridge {probe}: {bct.get(probe)} (port {get.get('port')!r} is container port {port}), "
                 f"expected httpGet {path} on http.port {ports.http_port}")
    dct = main["herald-dispatcher"]
    for probe in ("livenessProbe", "readinessProbe"):
        p = dct.get(probe) or {}
        if ports.tls:
            # Kubernetes' gRPC probe connects without TLS: with dispatcher.tls
            # it cannot pass, so the HTTP /health of metrics_listen is asked.
            get = p.get("httpGet") or {}
            c.expect(get.get("path") == "/health" and port_number(dct, get.get("port")) == ports.metrics_port,
                     f"herald-dispatcher {probe}: GET /health on metrics_listen (dispatcher.tls is on)",
                     f"herald-dispatcher {probe}: {p}; with dispatcher.tls the kubelet's plaintext gRPC probe "
                     f"cannot pass: expected httpGet /health on port {ports.metrics_port}")
        else:
            g = p.get("grpc") or {}
            c.expect(g.get("port") == ports.listen_port, f"herald-dispatcher {probe}: gRPC health on port {ports.listen_port}",
                     f"herald-dispatcher {probe}: {p}, expected grpc on dispatcher.listen's port {ports.listen_port}")

    # Services.
    services = {o["metadata"]["name"]: o for o in of_kind(objects, "Service")}
    host, tport = parse_target(ports.target)
    svc_name = host.split(".")[0] if host else None
    svc = services.get(svc_name)
    if host is None:
        c.fail(f"dispatcher.target {ports.target}: not a DNS name and port (dns:///NAME:PORT), which the "
               "bridge re-resolves; pods' addresses change")
    elif not c.expect(svc is not None, f"dispatcher.target {ports.target} names the Service {svc_name}",
                      f"dispatcher.target {ports.target}: no Service named {svc_name!r} in the base"):
        pass
    else:
        spec = svc["spec"]
        c.expect(spec.get("clusterIP") == "None", f"Service {svc_name} is headless",
                 f"Service {svc_name}: clusterIP {spec.get('clusterIP')!r}, must be None so that its DNS name "
                 "lists every dispatcher pod (else each bridge sticks to one)")
        sel = spec.get("selector", {})
        c.expect(selects(sel, pod_labels["herald-dispatcher"]) and not selects(sel, pod_labels["herald-bridge"]),
                 f"Service {svc_name} selects the dispatcher pods only",
                 f"Service {svc_name}: selector {sel} must match the dispatcher pods ({pod_labels['herald-dispatcher']}) and not the bridges")
        sp = [p for p in spec.get("ports", []) if p.get("port") == tport]
        c.expect(bool(sp) and port_number(dct, sp[0].get("targetPort", tport)) == ports.listen_port,
                 f"Service {svc_name} port {tport} reaches dispatcher.listen's port {ports.listen_port}",
                 f"Service {svc_name}: no port {tport} (dispatcher.target's) reaching container port {ports.listen_port}")
    bridge_svcs = [s for s in services.values() if selects(s["spec"].get("selector", {}), pod_labels["herald-bridge"])]
    if c.expect(bool(bridge_svcs), f"Service(s) {[s['metadata']['name'] for s in bridge_svcs]} select the bridge pods",
                "no Service selects the bridge pods"):
        for s in bridge_svcs:
            name, spec = s["metadata"]["name"], s["spec"]
            c.expect(not selects(spec.get("selector", {}), pod_labels["herald-dispatcher"]),
                     f"Service {name} does not select dispatcher pods", f"Service {name} also selects the dispatcher pods")
            reach = [p for p in spec.get("ports", []) if port_number(bct, p.get("targetPort", p.get("port"))) == ports.http_port]
            c.expect(bool(reach), f"Service {name} port {[p['port'] for p in reach]} reaches http.port {ports.http_port}",
                     f"Service {name}: no port reaches the bridge's http.port {ports.http_port}")

    # PodDisruptionBudgets.
    covered = set()
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        name, spec = pdb["metadata"]["name"], pdb["spec"]
        sel = spec.get("selector", {})
        if set(sel) - {"matchLabels"}:
            c.fail(f"PodDisruptionBudget {name}: only matchLabels selectors are checked here")
            continue
        hit = [b for b in BINARIES if selects(sel.get("matchLabels", {}), pod_labels[b])]
        if not c.expect(len(hit) == 1, f"PodDisruptionBudget {name} selects the {hit[0] if hit else '?'} pods",
                        f"PodDisruptionBudget {name}: selector {sel} matches {hit or 'no'} pods, expected exactly one Deployment's"):
            continue
        covered.add(hit[0])
        replicas = deployments[hit[0]]["spec"].get("replicas", 1)
        mu, ma = spec.get("maxUnavailable"), spec.get("minAvailable")
        lets_one_go = (isinstance(mu, int) and mu >= 1) or (isinstance(ma, int) and ma < replicas) or isinstance(mu, str) or isinstance(ma, str)
        c.expect(lets_one_go, f"PodDisruptionBudget {name} lets a pod go (maxUnavailable {mu}, minAvailable {ma}, replicas {replicas})",
                 f"PodDisruptionBudget {name}: maxUnavailable {mu}, minAvailable {ma} with {replicas} replicas blocks every node drain")
    for b in BINARIES:
        c.expect(b in covered, f"{deployments[b]['metadata']['name']} has a PodDisruptionBudget",
                 f"{deployments[b]['metadata']['name']}: no PodDisruptionBudget selects its pods")

    # securityContext.
    for b, d in deployments.items():
        name = d["metadata"]["name"]
        spec = d["spec"]["template"]["spec"]
        psc = spec.get("securityContext") or {}
        problems = []
        if psc.get("runAsNonRoot") is not True:
            problems.append("runAsNonRoot is not true")
        if psc.get("runAsUser") != 65532:
            problems.append(f"runAsUser {psc.get('runAsUser')}, expected 65532")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append("seccompProfile is not RuntimeDefault")
        c.expect(not problems, f"{name}: pod securityContext", f"{name}: pod securityContext: {'; '.join(problems)}")
        for ct in containers_of(d):
            sc = ct.get("securityContext") or {}
            caps = sc.get("capabilities") or {}
            problems = []
            if sc.get("runAsNonRoot") is not True:
                problems.append("runAsNonRoot is not true")
            if sc.get("runAsUser", psc.get("runAsUser")) != 65532:
                problems.append(f"runAsUser {sc.get('runAsUser', psc.get('runAsUser'))}, expected 65532")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append("readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append("allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append("privileged")
            if "ALL" not in (caps.get("drop") or []):
                problems.append("capabilities.drop lacks ALL")
            if caps.get("add"):
                problems.append(f"capabilities.add {caps['add']}")
            if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append("seccompProfile is not RuntimeDefault")
            c.expect(not problems, f"{name}/{ct['name']}: container securityContext",
                     f"{name}/{ct['name']}: container securityContext: {'; '.join(problems)}")

    # Grace periods against the drains.
    limits = {"herald-bridge": (ports.drain_timeout, f"http.drain_timeout ({ports.drain_timeout:g} s)"),
              "herald-dispatcher": (ports.deadline + DISPATCHER_REAPER_WAIT,
                                    f"dispatcher.deadline ({ports.deadline:g} s) + {DISPATCHER_REAPER_WAIT} s for pushes still out")}
    for b, d in deployments.items():
        grace = d["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        limit, what = limits[b]
        c.expect(grace > limit, f"{d['metadata']['name']}: terminationGracePeriodSeconds {grace} > {what}",
                 f"{d['metadata']['name']}: terminationGracePeriodSeconds {grace} does not outlast {what}: the drain would be SIGKILLed")

    # Volumes: ConfigMaps in the base, Secrets in secrets.example.yaml.
    c.expect(not of_kind(objects, "Secret"), "the base ships no Secret",
             f"the base declares Secret(s) {[s['metadata']['name'] for s in of_kind(objects, 'Secret')]}: keys do not belong in the repository")
    for b, d in deployments.items():
        name = d["metadata"]["name"]
        spec = d["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        for ct in containers_of(d):
            for m in ct.get("volumeMounts", []):
                c.expect(m["name"] in vols, f"{name}/{ct['name']}: mount {m['mountPath']} has volume {m['name']}",
                         f"{name}/{ct['name']}: mount {m['mountPath']} names no volume {m['name']!r}")
        for v in vols.values():
            if "configMap" in v:
                cm = v["configMap"].get("name")
                c.expect(cm in configmaps, f"{name}: volume {v['name']}: ConfigMap {cm} is in the base",
                         f"{name}: volume {v['name']}: ConfigMap {cm!r} is not in the base")
            if "secret" in v:
                sn = v["secret"].get("secretName")
                c.expect(sn in secrets, f"{name}: volume {v['name']}: Secret {sn} is in {SECRETS_EXAMPLE}",
                         f"{name}: volume {v['name']}: Secret {sn!r} is not in {SECRETS_EXAMPLE} (the operator would not know to create it)")
    for key, path in etc_paths(config):
        users = ["herald-dispatcher"] if key.startswith("apps.") else list(BINARIES)
        for b in users:
            d = deployments[b]
            where = mounted_file(d["spec"]["template"]["spec"], main[b], path, configmaps, secrets)
            c.expect(where is not None, f"{key}: {path} is mounted in {d['metadata']['name']} ({where})",
                     f"{key}: {path} is not provided in {d['metadata']['name']} by any mounted ConfigMap or Secret key")
    return ports


def check_config_loads(c, dispatcher, config, workdir):
    """herald-dispatcher --check-config on the config with stand-in files."""
    host, _ = parse_target(Ports(config).target)
    stand_ins = StandIns(workdir, [host] if host else [])
    mapping = {}
    for key, path in etc_paths(config):
        mapping[path] = stand_ins.make(key, path)
    local = replace_values(config, mapping)
    path = os.path.join(workdir, "herald.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(local, f, sort_keys=False)
    out = run([dispatcher, "--config", path, "--check-config"])
    apps = len(config.get("apps") or {})
    c.expect(out.returncode == 0 and f"OK ({apps} app(s))" in out.stdout,
             f"herald-dispatcher --check-config: {out.stdout.strip()}",
             f"herald-dispatcher --check-config exited {out.returncode}: {(out.stdout + out.stderr).strip()}")
    bad = warning_lines(out.stderr)
    c.expect(not bad, "herald-dispatcher --check-config: no warning on stderr",
             "herald-dispatcher --check-config warned:\n" + "\n".join(f"    {l}" for l in bad))
    return local


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def check_bridge_runs(c, bridge, local_config, ports, workdir):
    config = copy.deepcopy(local_config)
    config.setdefault("http", {}).update({"bind_addresses": ["127.0.0.1"], "port": 0})
    prom = config.setdefault("metrics", {}).setdefault("prometheus", {})
    if prom.get("enabled"):
        prom.update({"address": "127.0.0.1", "port": 0})
    disp = config.setdefault("dispatcher", {})
    disp["target"] = f"dns:///127.0.0.1:{free_port()}"  # nothing listens there
    disp["listen"] = "127.0.0.1:0"
    if disp.get("metrics_listen"):
        disp["metrics_listen"] = "127.0.0.1:0"
    path = os.path.join(workdir, "bridge.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    ready = os.path.join(workdir, "bridge.ready")
    err_path = os.path.join(workdir, "bridge.err")
    with open(err_path, "w") as err:
        proc = subprocess.Popen([bridge, "--config", path, "--ready-file", ready],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        info = None
        for _ in range(300):  # 30 s: sanitized builds start slowly
            if os.path.exists(ready):
                with open(ready) as f:
                    info = json.load(f)
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if info is None:
            c.fail(f"herald-bridge did not start on the ConfigMap's config (exit {proc.poll()}):\n{open(err_path).read()}")
            return
        c.ok(f"herald-bridge started on the ConfigMap's config: {info}")
        status, body = http_get(info["port"], "/health")
        c.expect(status == 200 and json.loads(body or "null") == {"status": "ok"},
                 "GET /health: 200 {\"status\":\"ok\"}", f"GET /health: {status} {body!r}, expected 200 {{\"status\":\"ok\"}}")
        status, body = http_get(info["port"], "/ready")
        try:
            errcode = json.loads(body).get("errcode")
        except (ValueError, AttributeError):
            errcode = None
        c.expect(status == 503 and errcode,
                 f"GET /ready without a dispatcher: 503 {errcode} ({body.strip()})",
                 f"GET /ready without a dispatcher: {status} {body!r}, expected 503 with a Matrix errcode")
        if prom.get("enabled"):
            mport = info.get("metrics_port")
            if c.expect(mport, f"metrics listener on port {mport}", f"no metrics_port in the ready file {info}"):
                status, body = http_get(mport, "/metrics")
                c.expect(status == 200 and "herald_build_info" in body, "GET /metrics on the metrics port: 200, herald_build_info",
                         f"GET /metrics on the metrics port: {status}, herald_build_info {'present' if 'herald_build_info' in body else 'absent'}")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=ports.drain_timeout + 10)
        except subprocess.TimeoutExpired:
            rc = None
        c.expect(rc == 0, "herald-bridge: SIGTERM → exit 0", f"herald-bridge: SIGTERM → exit {rc} (None: still running after the drain)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = open(err_path).read()
    if (config.get("log") or {}).get("format") == "json":
        not_json = []
        for line in stderr.splitlines():
            try:
                obj = json.loads(line)
                if not {"time", "level", "component", "message"} <= set(obj):
                    not_json.append(line)
            except ValueError:
                if line.strip():
                    not_json.append(line)
        c.expect(not not_json, "herald-bridge: every log line is a JSON object (log.format: json)",
                 "herald-bridge: log lines that are not log.format json objects:\n" + "\n".join(f"    {l}" for l in not_json))
    bad = warning_lines(stderr)
    c.expect(not bad, "herald-bridge: no warning in its log", "herald-bridge warned:\n" + "\n".join(f"    {l}" for l in bad))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bridge", required=True)
    parser.add_argument("--dispatcher", required=True)
    parser.add_argument("files", nargs="*", help="the base's files (kustomization.yaml among them)")
    args = parser.parse_args()
    kust = [f for f in args.files if os.path.basename(f) == KUSTOMIZATION]
    if len(kust) > 1:
        sys.exit(f"FAIL: several {KUSTOMIZATION} given: {kust}")
    if kust:
        kustomization = os.path.abspath(kust[0])
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        kustomization = os.path.join(here, "..", "..", "deploy", "kubernetes", KUSTOMIZATION)
    c = Checks()
    try:
        bins = {}
        for name, path in (("herald-bridge", args.bridge), ("herald-dispatcher", args.dispatcher)):
            path = os.path.abspath(path)
            if not os.access(path, os.X_OK):
                raise Fatal(f"not an executable: {path}")
            bins[name] = {"path": path, "flags": help_flags(path), "version": version_of(path)}
            if not bins[name]["flags"] or not bins[name]["version"]:
                raise Fatal(f"{path}: cannot read its --help flags or --version")
        if shutil.which("openssl") is None:
            raise Fatal("the openssl command is missing (tools/setup installs openssl)")
        base, objects, _ = load_base(kustomization)
        c.ok(f"{KUSTOMIZATION}: {len(objects)} objects ({', '.join(sorted({o['kind'] for o in objects}))})")
        secrets_path = os.path.join(base, SECRETS_EXAMPLE)
        if not os.path.isfile(secrets_path):
            raise Fatal(f"{SECRETS_EXAMPLE} is missing next to {KUSTOMIZATION}")
        secrets = {s["metadata"]["name"]: s for s in load_yaml_docs(secrets_path) if s.get("kind") == "Secret"}

        # The config both Deployments read: the bridge's --config mount.
        cms = of_kind(objects, "ConfigMap")
        texts = [(cm["metadata"]["name"], k, v) for cm in cms for k, v in (cm.get("data") or {}).items()
                 if k.endswith((".yaml", ".yml"))]
        if len(texts) != 1:
            raise Fatal(f"expected one YAML file in the base's ConfigMaps, found {[(n, k) for n, k, _ in texts]}")
        cm_name, cm_key, config_text = texts[0]
        config = yaml.safe_load(config_text)
        if not isinstance(config, dict):
            raise Fatal(f"ConfigMap {cm_name} {cm_key}: not a YAML mapping")

        ports = check_static(c, objects, secrets, bins, config, config_text)
        tmp_parent = os.environ.get("TEST_TMPDIR")
        workdir = tempfile.mkdtemp(prefix="check_manifests.", dir=tmp_parent)
        try:
            local = check_config_loads(c, bins["herald-dispatcher"]["path"], config, workdir)
            check_bridge_runs(c, bins["herald-bridge"]["path"], local, ports, workdir)
        finally:
            if tmp_parent is None:
                shutil.rmtree(workdir, ignore_errors=True)
    except Fatal as e:
        c.fail(str(e))
        print("(the remaining checks were not run)")
    except (subprocess.TimeoutExpired, OSError, yaml.YAMLError, KeyError) as e:
        c.fail(f"{type(e).__name__}: {e}")
        print("(the remaining checks were not run)")
    if c.failed:
        print(f"{c.failed} check(s) failed")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
