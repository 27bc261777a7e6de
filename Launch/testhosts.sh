#!/usr/bin/env bash
# Test hosts on one machine (root): network namespaces joined by veth pairs and a bridge.
#   Launch/testhosts.sh up N [--link 1gbit|10gbit|none] [--slots S|S1,S2,…] [--dir DIR] [--owner PID]
#       prints DIR, which then holds: hostfile, agent (rsh agent: `agent HOST cmd…`), subnet, hosts
#   Launch/testhosts.sh down DIR          remove every namespace, veth, bridge and file of DIR
#   Launch/testhosts.sh cut DIR HOST      `ip link set <veth> down`: HOST drops off the network
#   Launch/testhosts.sh pids DIR HOST     processes running inside HOST
#   Launch/testhosts.sh shape DIR LINK    reshape every host's link: 1gbit, 10gbit or none
#   Launch/testhosts.sh with N [up options] -- command…   up, run command (TESTHOSTS_DIR,
#       TESTHOSTS_HOSTFILE, TESTHOSTS_AGENT set), down again however it ends
# HOST is a host's address (as the hostfile lists it) or its index from 0. Names and the /24
# subnet are unique to the run; namespaces have no route out, so traffic stays between them.
# --owner PID: a watcher removes everything once PID is gone (a crashed test leaves nothing).
set -euo pipefail
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
die() { echo "testhosts.sh: $*" >&2; exit 2; }
case "${1:-}" in -h|--help|"") sed -n 2,13p "$0"; exit 0 ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (ip netns)"

# Sets rate and burst for a link name.
link_rate() {
  case "$1" in
    none) rate=""; burst="" ;;
    1gbit) rate=1gbit; burst=256kb ;;      # toolchain §8's measured setting
    10gbit) rate=10gbit; burst=2560kb ;;   # the same 2 ms of traffic at ten times the rate
    *) die "--link is 1gbit, 10gbit or none, not $1" ;;
  esac
}

# Every host of DIR's egress shaped to LINK (or unshaped).
shape() {
  local dir="$1" link="$2" addr ns veth
  link_rate "$link"
  while read -r addr ns veth; do
    ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null || true
    [ "$link" = none ] || ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
  done < "$dir/hosts"
}

ip4() { local IFS=.; set -- $1; echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )); }

# True when 10.A.B.0/24 overlaps no address or route of this machine's root namespace.
subnet_free() {
  local net; net=$(ip4 "$1.0")
  local cidr pfx len mask
  while read -r cidr; do
    pfx=${cidr%/*}; len=${cidr#*/}; [ "$len" = "$cidr" ] && len=32
    [ "$len" -gt 24 ] && len=24
    mask=$(( len == 0 ? 0 : (0xFFFFFFFF << (32 - len)) & 0xFFFFFFFF ))
    [ $(( $(ip4 "$pfx") & mask )) -eq $(( net & mask )) ] && return 1
  done < <( { ip -4 -o addr show | awk '{print $4}'
              ip -4 route show table all | awk '$1 != "default" {print ($1 == "local" || $1 == "broadcast") ? $2 : $1}'
            } | grep -E '^[0-9.]+(/[0-9]+)?$')
  return 0
}

up() {
  local n="$1"; shift
  local link=none slots=1 dir="" owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --link) link="$2"; shift 2 ;;
      --slots) slots="$2"; shift 2 ;;
      --dir) dir="$2"; shift 2 ;;
      --owner) owner="$2"; shift 2 ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [[ "$n" =~ ^[1-9][0-9]?$ ]] && [ "$n" -le 50 ] || die "up: N must be 1–50, got $n"
  link_rate "$link"
  ip netns list >/dev/null 2>&1 || die "ip netns is not available"
  local id a b tries=0
  while :; do
    id=$(printf '%04x' $(( (RANDOM ^ $$) & 0xFFFF )))
    a=$(( 16 + RANDOM % 200 )); b=$(( RANDOM % 256 ))
    [ -e "/run/netns/ah$id-h0" ] || ip link show "ah${id}br" >/dev/null 2>&1 || ! subnet_free "10.$a.$b" || break
    tries=$((tries + 1)); [ $tries -lt 50 ] || die "no free /24 subnet or name found"
  done
  local subnet="10.$a.$b"
  dir="${dir:-/tmp/testhosts-$id}"
  mkdir -p "$dir"
  echo "$id" > "$dir/id"
  # A half-built set is removed again, whatever stops it.
  up_dir="$dir"
  trap 'down "$up_dir" >/dev/null 2>&1 || true' EXIT
  ip link add "ah${id}br" type bridge
  ip addr add "$subnet.1/24" dev "ah${id}br"   # mpirun runs in the root namespace
  ip link set "ah${id}br" up
  : > "$dir/hostfile"; : > "$dir/hosts"
  local i addr ns s
  IFS=, read -r -a per <<< "$slots"
  for ((i = 0; i < n; i++)); do
    ns="ah$id-h$i"; addr="$subnet.$((11 + i))"
    s="${per[$i]:-${per[$((${#per[@]} - 1))]}}"
    ip netns add "$ns"
    ip link add "ah${id}v$i" type veth peer name "ah${id}p$i"
    ip link set "ah${id}p$i" netns "$ns"
    ip -n "$ns" link set "ah${id}p$i" name eth0
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip link set "ah${id}v$i" master "ah${id}br"
    ip link set "ah${id}v$i" up
    [ "$link" = none ] || ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
    echo "$addr slots=$s" >> "$dir/hostfile"
    echo "$addr $ns ah${id}v$i" >> "$dir/hosts"
  done
  echo "$subnet.0/24" > "$dir/subnet"
  write_agent "$dir"
  trap - EXIT
  if [ -n "$owner" ]; then
    setsid bash "$self" _watch "$dir" "$owner" </dev/null >/dev/null 2>&1 &
    echo $! > "$dir/watcher"
  fi
  echo "$dir"
}

# The rsh agent mpirun calls as `agent HOST command…`: runs the command inside HOST's
# namespace. Like ssh to a host whose network is gone, it fails (255) when HOST's link is down.
write_agent() {
  local dir="$1" addr ns veth
  {
    echo '#!/bin/sh'
    echo "# rsh agent for the test hosts of $dir (Launch/testhosts.sh)"
    echo 'host="$1"; shift'
    echo 'case "$host" in'
    while read -r addr ns veth; do echo "  $addr) ns=$ns ;;"; done < "$dir/hosts"
    echo '  *) echo "agent: unknown test host $host" >&2; exit 255 ;;'
    echo 'esac'
    echo 'if [ "$(ip netns exec "$ns" cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ]; then'
    echo '  echo "agent: connect to host $host: Network is unreachable" >&2; exit 255'
    echo 'fi'
    # A temporary folder per host: the hosts share one file system and one host name, and Open
    # MPI names its session folders by host name, so without this the daemons of two hosts
    # share (and clean up) one session folder and a daemon now and then never starts.
    echo "tmp=\"$dir/tmp/\$ns\""
    echo 'mkdir -p "$tmp"'
    echo 'exec ip netns exec "$ns" env TMPDIR="$tmp" /bin/sh -c "$*"'
  } > "$dir/agent"
  chmod +x "$dir/agent"
}

# HOST (address or index) → its line in DIR/hosts: "addr namespace veth".
host_line() {
  local dir="$1" host="$2"
  [ -f "$dir/hosts" ] || die "$dir holds no test hosts"
  if [[ "$host" =~ ^[0-9]+$ ]]; then sed -n "$((host + 1))p" "$dir/hosts"; else awk -v h="$host" '$1 == h' "$dir/hosts"; fi
}

down() {
  local dir="$1" addr ns veth pid id
  [ -f "$dir/id" ] || die "$dir holds no test hosts"
  id=$(cat "$dir/id")
  if [ -f "$dir/watcher" ]; then
    pid=$(cat "$dir/watcher"); [ "$pid" != "${WATCHER_SELF:-}" ] && kill "$pid" 2>/dev/null || true
  fi
  if [ -f "$dir/hosts" ]; then
    while read -r addr ns veth; do
      # Whatever still runs on a test host was started there by a job on these hosts.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
      # Gone before the link goes, so their sockets' ends reach the root namespace (mpirun).
      for _ in $(seq 50); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
      ip link del "$veth" 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    done < "$dir/hosts"
  fi
  # Namespaces and links made before a failure in `up` that never reached the hosts file.
  for ns in $(ip netns list | awk '{print $1}' | grep "^ah$id-h" || true); do ip netns del "$ns" 2>/dev/null || true; done
  for veth in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^ah${id}[vp][0-9]" || true); do
    ip link del "$veth" 2>/dev/null || true
  done
  ip link del "ah${id}br" 2>/dev/null || true
  rm -rf "$dir"
}

watch() {
  local dir="$1" owner="$2" fd
  # Hold none of the caller's descriptors: whoever waits for `up` to end (a pipe's EOF) is not kept waiting.
  for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done
  while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
  [ -d "$dir" ] && WATCHER_SELF=$$ down "$dir" || true
}

with() {
  local n="$1"; shift
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift || die "with: no command after --"
  with_dir=$(up "$n" "${opts[@]}")
  trap 'down "$with_dir"' EXIT
  trap 'exit 130' INT TERM
  TESTHOSTS_DIR="$with_dir" TESTHOSTS_HOSTFILE="$with_dir/hostfile" TESTHOSTS_AGENT="$with_dir/agent" "$@"
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  up) [ $# -ge 1 ] || die "usage: up N [options]"; up "$@" ;;
  down) [ $# -eq 1 ] || die "usage: down DIR"; down "$1" ;;
  cut) [ $# -eq 2 ] || die "usage: cut DIR HOST"
       line=$(host_line "$1" "$2"); [ -n "$line" ] || die "no test host $2"
       ip link set "$(echo "$line" | awk '{print $3}')" down ;;
  pids) [ $# -eq 2 ] || die "usage: pids DIR HOST"
        line=$(host_line "$1" "$2"); [ -n "$line" ] || die "no test host $2"
        ip netns pids "$(echo "$line" | awk '{print $2}')" ;;
  shape) [ $# -eq 2 ] || die "usage: shape DIR LINK"; shape "$1" "$2" ;;
  with) [ $# -ge 1 ] || die "usage: with N [options] -- command…"; with "$@" ;;
  _watch) watch "$@" ;;
  *) die "unknown command $cmd (up, down, cut, pids, shape, with)" ;;
esac
