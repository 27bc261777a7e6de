#!/usr/bin/env bash
# Runs an autosam-dist command over several hosts with the mpirun flags that job needs:
#   Launch/multihost.sh --hostfile F --ranks N [--threads T] [--if IFACE | --subnet CIDR]
#       [--agent AGENT] [--max-restarts R] [--launch-timeout S] [--no-bind] -- <subcommand and its options>
# The binary ($BIN, default .build/release/autosam-dist) must be at the same path on every host.
# MPI's daemons and ranks talk only over IFACE/CIDR; a host that drops off the network is noticed
# within seconds (TCP keepalive on the daemons' links), not after Open MPI's default 300 s idle.
# --agent: the rsh agent mpirun starts daemons with (`AGENT HOST command…`; default ssh).
# --threads T: T compute threads per rank, each rank bound to T cores (otherwise every rank
#   picks its own from its host's cores; --no-bind leaves ranks unbound).
# --max-restarts R: when the job fails, log the cause, drop the hosts that no longer answer,
#   recompute the ranks for those left and run again (train: with --resume auto, so only the
#   steps since the newest complete checkpoint are lost), up to R times.
# --launch-timeout S: an attempt whose MPI daemons have not all started within S s (default 300;
#   mpirun itself waits forever for a daemon that hangs) is stopped, naming the hosts that do
#   not answer, and counts as a failed attempt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
die() { echo "multihost.sh: $*" >&2; exit 2; }
hostfile="" ranks="" threads="" net="" agent="" restarts=0 bind=1 launch_timeout=300
while [ $# -gt 0 ]; do
  case "$1" in
    --hostfile) hostfile="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --if|--subnet) [ -z "$net" ] || die "give one of --if and --subnet"; net="$2"; shift 2 ;;
    --agent) agent="$2"; shift 2 ;;
    --max-restarts) restarts="$2"; shift 2 ;;
    --launch-timeout) launch_timeout="$2"; shift 2 ;;
    --no-bind) bind=0; shift ;;
    --) shift; break ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) die "unknown option $1 (options go before --, the command's after it)" ;;
  esac
done
[ -n "$hostfile" ] && [ -f "$hostfile" ] || die "--hostfile F: a file of 'host slots=n' lines is needed"
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || die "--ranks N: a positive rank count is needed"
[[ "$restarts" =~ ^[0-9]+$ ]] || die "--max-restarts R: a count"
[[ "$launch_timeout" =~ ^[1-9][0-9]*$ ]] || die "--launch-timeout S: a positive number of seconds"
[ -z "$threads" ] || [[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads T: a positive count"
[ $# -gt 0 ] || die "no autosam-dist command after --"
bin="${BIN:-$root/.build/release/autosam-dist}"
[ -x "$bin" ] || die "$bin is not built (swift build -c release, or set BIN)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
command=("$@")

work=$(mktemp -d /tmp/multihost.XXXXXX)
mpi=""
trap 'rm -rf "$work"' EXIT
# Whoever stops this script stops the job it runs (TERM: a background job ignores SIGINT).
trap '[ -n "$mpi" ] && kill -TERM "$mpi" 2>/dev/null; exit 143' TERM
trap '[ -n "$mpi" ] && kill -TERM "$mpi" 2>/dev/null; exit 130' INT
grep -vE '^[[:space:]]*(#|$)' "$hostfile" > "$work/hosts"

slots_of() { awk '{ s = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) s = substr($i, 7); t += s } END { print t + 0 }' "$1"; }

# A host answers when the agent (or ssh) runs `true` on it within 10 s.
answers() {
  if [ -n "$agent" ]; then timeout 10 "$agent" "$1" true </dev/null >/dev/null 2>&1
  else timeout 15 ssh -o BatchMode=yes -o ConnectTimeout=10 "$1" true </dev/null >/dev/null 2>&1; fi
}

flags=(--hostfile "$work/hosts" --mca btl "tcp,self$(awk '/slots=([2-9]|[1-9][0-9])/ {print ",vader"; exit}' "$work/hosts")"
       --mca oob_tcp_keepalive_time 10 --mca oob_tcp_keepalive_intvl 3 --mca oob_tcp_keepalive_probes 3
       --display-map)
[ -z "$net" ] || flags+=(--mca oob_tcp_if_include "$net" --mca btl_tcp_if_include "$net")
[ -z "$agent" ] || flags+=(--mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1)
[ "$(id -u)" -ne 0 ] || flags+=(--allow-run-as-root)
args=()
if [ -n "$threads" ]; then
  flags+=(-x OPENBLAS_NUM_THREADS="$threads")
  [ "$bind" -eq 1 ] && flags+=(--map-by "slot:PE=$threads" --bind-to core) || flags+=(--bind-to none)
  args=(--threads "$threads")
else
  [ -z "${OPENBLAS_NUM_THREADS:-}" ] || flags+=(-x OPENBLAS_NUM_THREADS)
  flags+=(--bind-to none)
fi
# The hostfile decides where ranks go, not a single-host default from the environment.
unset OMPI_MCA_plm

# The command of a rerun: train continues from its newest complete checkpoint.
resumed() {
  local out=() skip=0 a
  for a in "${command[@]}"; do
    if [ $skip -eq 1 ]; then skip=0; continue; fi
    case "$a" in --resume) skip=1 ;; --resume=*) ;; *) out+=("$a") ;; esac
  done
  [ "${command[0]}" = train ] && out+=(--resume auto)
  command=("${out[@]}")
}

abort_grace=15
stop_mpirun() { kill -TERM "$mpi" 2>/dev/null || true; sleep 5; kill -KILL "$mpi" 2>/dev/null || true; }
causes=()
attempt=0
while :; do
  attempt=$((attempt + 1))
  n=$(slots_of "$work/hosts"); [ "$ranks" -le "$n" ] && n=$ranks
  echo "multihost: attempt $attempt of $((restarts + 1)): $n rank(s) on $(awk '{print $1}' "$work/hosts" | paste -sd' ')" >&2
  echo "multihost: mpirun -n $n ${flags[*]} $bin ${command[*]} ${args[*]}" >&2
  : > "$work/stdout"; : > "$work/stderr"
  mpirun -n "$n" "${flags[@]}" "$bin" "${command[0]}" "${args[@]}" "${command[@]:1}" > "$work/stdout" 2> "$work/stderr" &
  mpi=$!
  tail -s 0.2 -n +1 -f --pid="$mpi" "$work/stdout" &
  tails=$!
  tail -s 0.2 -n +1 -f --pid="$mpi" "$work/stderr" >&2 &
  tails="$tails $!"
  # mpirun prints the job map (--display-map) once every daemon has reported; a daemon that
  # hangs (a host that accepts the connection and never runs it) would keep it waiting forever.
  launched="" launch_deadline=$((SECONDS + launch_timeout)) silent="" launch_cause=""
  # mpirun ends a job within seconds once a rank fails, unless it must tell a host it can no
  # longer reach (a kill in flight keeps TCP retrying for minutes): then it is stopped here.
  failed_at=""
  while kill -0 "$mpi" 2>/dev/null; do
    if [ -z "$launched" ] && grep -q 'JOB MAP' "$work/stdout"; then launched=1; fi
    if [ -z "$launched" ] && [ "$SECONDS" -ge "$launch_deadline" ]; then
      silent=$(while read -r line; do h=${line%%[[:space:]]*}; answers "$h" || printf '%s ' "$h"; done < "$work/hosts")
      echo "multihost: the MPI daemons did not all start within ${launch_timeout} s (not answering: ${silent:-none; a daemon hangs}); stopping the attempt" >&2
      launch_cause="launch timeout after ${launch_timeout} s; hosts not answering: ${silent:-none}"
      stop_mpirun
      break
    fi
    if [ -z "$failed_at" ] && grep -qE 'MPI_ABORT was invoked|\): error: ' "$work/stderr"; then failed_at=$SECONDS; fi
    if [ -n "$failed_at" ] && [ $((SECONDS - failed_at)) -ge "$abort_grace" ]; then
      echo "multihost: mpirun still runs ${abort_grace} s after a rank failed (a host is probably unreachable); stopping it" >&2
      stop_mpirun
      break
    fi
    sleep 1
  done
  status=0; wait "$mpi" || status=$?
  for t in $tails; do wait "$t" 2>/dev/null || true; done
  mpi=""
  [ "$status" -eq 0 ] && exit 0
  # The cause: what mpirun saw die (a rank killed, a host lost), else a rank's own error line
  # (the collective watchdog names the ranks behind), else any error lines, else the last lines.
  cause="$launch_cause"
  for pattern in 'launch timeout|exited on signal|lost communication|Remote daemon' '\): error: ' 'error|abort|killed|signal|unreachable'; do
    [ -n "$cause" ] || cause=$(grep -iE "$pattern" "$work/stderr" | tail -n 3 || true)
  done
  [ -n "$cause" ] || cause=$(tail -n 3 "$work/stderr")
  causes+=("attempt $attempt: exit $status: $(echo "$cause" | sed 's/^[[:space:]]*//' | paste -sd'|' | sed 's/|/ | /g')")
  if [ "$attempt" -gt "$restarts" ]; then
    echo "multihost: the job failed $attempt time(s), giving up:" >&2
    printf '  %s\n' "${causes[@]}" >&2
    exit 1
  fi
  : > "$work/left"
  while read -r line; do
    host=${line%%[[:space:]]*}
    if answers "$host"; then echo "$line" >> "$work/left"; else echo "multihost: dropping $host: it does not answer" >&2; fi
  done < "$work/hosts"
  mv "$work/left" "$work/hosts"
  if [ ! -s "$work/hosts" ]; then
    echo "multihost: no host answers, giving up:" >&2; printf '  %s\n' "${causes[@]}" >&2; exit 1
  fi
  resumed
  echo "multihost: restart $((attempt)) of $restarts after exit $status; cause: ${causes[-1]#*: exit $status: }" >&2
done
