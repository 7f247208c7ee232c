#!/usr/bin/env bash
# Checks deploy/systemd/*.service with `systemd-analyze verify`, against the
# binaries just built.
#
#   check_systemd.sh BRIDGE DISPATCHER [UNIT_FILE...]
#
# BRIDGE and DISPATCHER are the built herald-bridge and herald-dispatcher;
# the unit files default to deploy/systemd/*.service next to this script.
# Through Bazel (`bazel test //tests/deploy:check_systemd`) all of them come
# as runfiles paths in the arguments (see tests/deploy/BUILD.bazel). By hand:
#
#   tests/deploy/check_systemd.sh bazel-bin/bridge/herald-bridge \
#       bazel-bin/dispatcher/herald-dispatcher
#
# The units are copied to a scratch directory with ExecStart= pointing at the
# binaries given (verify checks that the command exists and is executable),
# then verified together (the bridge's unit names the dispatcher's). Any
# output line naming one of the unit files fails the test, warnings included
# (systemd prints unknown keys and bad values as warnings and still exits
# 0). A missing systemd-analyze fails the test: tools/setup installs
# `systemd`.
#
# Exceptions (lines ignored although they name a unit): none are needed on
# Debian 12's systemd 252, whether or not PID 1 is systemd, as root or not.
# Add one to IGNORED below only for a message that a sandbox forces and that
# says nothing about the unit, with a comment saying why.
set -uo pipefail

IGNORED=(
  # (regular expressions matched against whole output lines; none so far)
)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok - $*"; }

(($# >= 2)) || fail "usage: $0 BRIDGE DISPATCHER [UNIT_FILE...]"

absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

BRIDGE="$(absolute "$1")"
DISPATCHER="$(absolute "$2")"
shift 2
UNITS=("$@")
if ((${#UNITS[@]} == 0)); then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  UNITS=("$here/../../deploy/systemd/herald-dispatcher.service"
         "$here/../../deploy/systemd/herald-bridge.service")
fi

for b in "$BRIDGE" "$DISPATCHER"; do
  [[ -x "$b" ]] || fail "not an executable: $b"
done

ANALYZE="$(command -v systemd-analyze)" ||
  fail "systemd-analyze not found: install Debian's package systemd (tools/setup does)"

if [[ -n "${TEST_TMPDIR:-}" ]]; then
  WORK="$(mktemp -d "$TEST_TMPDIR/check_systemd.XXXXXX")"
else
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
fi

# systemd reads % as a specifier and \ as an escape in ExecStart=.
unit_escape() {
  local s="${1//\\/\\\\}"
  printf '%s\n' "${s//%/%%}"
}

declare -A BINARY=([herald-bridge]="$BRIDGE" [herald-dispatcher]="$DISPATCHER")
declare -A SEEN=()
copies=()
for unit in "${UNITS[@]}"; do
  [[ -f "$unit" ]] || fail "no such unit file: $unit"
  name="$(basename "$unit")"
  service="${name%.service}"
  [[ -n "${BINARY[$service]:-}" ]] || fail "$name: not a unit this test knows (herald-bridge.service, herald-dispatcher.service)"
  SEEN[$service]=1
  copy="$WORK/$name"
  rewritten=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" == ExecStart=* ]]; then
      cmd="${line#ExecStart=}"
      read -r -a words <<<"$cmd"
      [[ "${words[0]}" == "/usr/local/bin/$service" ]] ||
        fail "$name: ExecStart runs '${words[0]}', expected /usr/local/bin/$service (deploy/systemd/README.md installs it there)"
      # Every flag of the command line must be one the binary knows. Abseil
      # reads a - in a flag name as _ (README, Operations, Command line), and
      # --help lists the _ spelling.
      help="$("${BINARY[$service]}" --help 2>&1)"
      for w in "${words[@]:1}"; do
        [[ "$w" == --* ]] || continue
        flag="${w%%=*}"
        flag="${flag#--}"
        flag="${flag//-/_}"
        grep -q -- "--$flag (" <<<"$help" ||
          fail "$name: ExecStart passes --${w#--}, which '$service --help' does not list"
      done
      line="ExecStart=$(unit_escape "${BINARY[$service]}")${cmd#"${words[0]}"}"
      rewritten=$((rewritten + 1))
    fi
    printf '%s\n' "$line"
  done <"$unit" >"$copy"
  ((rewritten == 1)) || fail "$name: expected exactly one ExecStart= line, found $rewritten"
  copies+=("$copy")
done
ok "ExecStart of ${#copies[@]} unit(s) runs the built binaries, with flags they know"

# The drain must finish before systemd's stop timeout sends SIGKILL.
# Defaults: http.drain_timeout 20 s; dispatcher.deadline 10 s + the 5 s
# the dispatcher waits for pushes still out (dispatcher/main.cc).
declare -A DRAIN=([herald-bridge]=20 [herald-dispatcher]=15)
for copy in "${copies[@]}"; do
  name="$(basename "$copy")"
  service="${name%.service}"
  t="$(sed -n 's/^TimeoutStopSec=\([0-9][0-9]*\)s\?$/\1/p' "$copy" | tail -n 1)"
  [[ -n "$t" ]] || fail "$name: no TimeoutStopSec= in whole seconds"
  ((t > DRAIN[$service])) ||
    fail "$name: TimeoutStopSec=$t s does not cover the default drain (${DRAIN[$service]} s)"
  grep -qx 'Type=notify' "$copy" || fail "$name: not Type=notify"
done
ok "TimeoutStopSec covers the default drains; Type=notify"

out="$(cd "$WORK" && "$ANALYZE" verify "${copies[@]}" 2>&1)"
rc=$?
if [[ -n "$out" ]]; then
  printf '%s\n' "$out" | sed 's/^/systemd-analyze: /'
fi

bad=()
while IFS= read -r line; do
  [[ -z "$line" ]] && continue
  for copy in "${copies[@]}"; do
    name="$(basename "$copy")"
    [[ "$line" == *"$name"* ]] || continue
    ignored=0
    for re in "${IGNORED[@]}"; do
      [[ "$line" =~ $re ]] && ignored=1
    done
    ((ignored)) || bad+=("$line")
    break
  done
done <<<"$out"

((${#bad[@]} == 0)) || fail "systemd-analyze verify complained about the units:
$(printf '  %s\n' "${bad[@]}")"
((rc == 0)) || fail "systemd-analyze verify exited $rc"
ok "systemd-analyze verify: no complaint about ${#copies[@]} unit(s)"

for service in herald-bridge herald-dispatcher; do
  [[ -n "${SEEN[$service]:-}" ]] || fail "$service.service was not checked (not among the unit files given)"
done
echo "PASS"
