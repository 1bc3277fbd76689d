#!/usr/bin/env bash
# Runs N copies of a command on this machine as the N processes of one
# multi-process JAX job: what a pod slice does with one process per host,
# rehearsed on a laptop (see docs/scaling.md).
#
#   launch/multihost_local.sh 2 -- btrl train --config=configs/rl.py:beneficial --workdir=/tmp/w
#
# Process i gets BTRL_COORDINATOR=127.0.0.1:PORT, BTRL_NUM_PROCESSES=N and
# BTRL_PROCESS_ID=i (read by btrl_jax.parallel.maybe_initialize_distributed).
# Each output line is prefixed with "[i] " (and, with --logdir, also written to
# DIR/process_i.log). The script waits for every process; when one fails it
# stops the others (they would wait for it at the next collective) and exits 1:
# SIGTERM first, then, after --grace seconds, SIGKILL to any still running (a
# process blocked in a collective never returns to the Python code that would
# act on SIGTERM, and btrl's training loops turn SIGTERM into a checkpoint).
set -euo pipefail

readonly PROG="launch/multihost_local.sh"

usage() {
  cat <<'EOF'
usage: launch/multihost_local.sh [--port=PORT] [--logdir=DIR] [--grace=S] [--dry-run] N -- COMMAND...

  N             number of processes (>= 1)
  --port=PORT   coordinator port on 127.0.0.1 (default: a random one in 20000-39999)
  --logdir=DIR  also write process i's output to DIR/process_i.log
  --grace=S     when one process fails, seconds between SIGTERM and SIGKILL to the
                others (default 10)
  --dry-run     print the N commands, with their environment, instead of running them
EOF
}

die_usage() {
  echo "$PROG: error: $*" >&2
  usage >&2
  exit 2
}

PORT=$((20000 + RANDOM % 20000))
LOGDIR=""
GRACE=10
DRY_RUN=0
N=""
while (( $# )); do
  case "$1" in
    --port=*) PORT="${1#*=}" ;;
    --logdir=*) LOGDIR="${1#*=}" ;;
    --grace=*) GRACE="${1#*=}" ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die_usage "unknown flag '$1'" ;;
    *) [[ -z "$N" ]] || die_usage "unexpected argument '$1' (put the command after --)"; N="$1" ;;
  esac
  shift
done
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die_usage "N must be a positive integer, got '${N}'"
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || (( PORT < 1 || PORT > 65535 )); then
  die_usage "bad --port '$PORT'"
fi
[[ "$GRACE" =~ ^[0-9]+$ ]] || die_usage "bad --grace '$GRACE' (whole seconds)"
(( $# )) || die_usage "missing the command after --"

# Quote one word for display so the printed command can be pasted back into a shell.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

env_of() {  # the environment of process $1
  printf '%s\n' "BTRL_COORDINATOR=127.0.0.1:$PORT" "BTRL_NUM_PROCESSES=$N" "BTRL_PROCESS_ID=$1"
}

if (( DRY_RUN )); then
  for (( i = 0; i < N; i++ )); do
    mapfile -t vars < <(env_of "$i")
    line="${vars[*]}"
    for word in "$@"; do line+=" $(quote "$word")"; done
    echo "$line"
  done
  exit 0
fi

[[ -z "$LOGDIR" ]] || mkdir -p "$LOGDIR"

# Each process runs in its own process group (set -m), so a failure can stop a whole group.
set -m
pids=()
for (( i = 0; i < N; i++ )); do
  mapfile -t vars < <(env_of "$i")
  log="${LOGDIR:+$LOGDIR/process_$i.log}"
  [[ -z "$log" ]] || : > "$log"
  (
    env "${vars[@]}" "$@" 2>&1 | while IFS= read -r line; do
      printf '[%s] %s\n' "$i" "$line"
      [[ -z "$log" ]] || printf '%s\n' "$line" >> "$log"
    done
  ) &
  pids+=("$!")
done
set +m  # no job-status chatter ("Terminated") when stop_all ends the others

signal_all() {  # signal $1 to every process group
  local pid
  for pid in "${pids[@]}"; do kill "-$1" -- "-$pid" 2>/dev/null || true; done
}
stop_all() {
  signal_all TERM
  kill_at=$((SECONDS + GRACE))
}
trap 'signal_all TERM; exit 130' INT TERM

status=0
kill_at=-1
reaped=()
remaining=("${!pids[@]}")
while (( ${#remaining[@]} )); do
  still=()
  for i in "${remaining[@]}"; do
    if [[ -z "${reaped[$i]:-}" ]] && ! kill -0 "${pids[$i]}" 2>/dev/null; then
      reaped[i]=1
      rc=0
      wait "${pids[$i]}" || rc=$?
      if (( rc != 0 )); then
        echo "$PROG: process $i exited with status $rc" >&2
        if (( status == 0 )); then status=1; stop_all; fi
      fi
    fi
    # Done once its whole process group is gone: the command can outlive the subshell
    # that ran it (a SIGTERM it catches ends only the output pipe).
    if kill -0 -- "-${pids[$i]}" 2>/dev/null; then still+=("$i"); fi
  done
  remaining=("${still[@]+"${still[@]}"}")
  if (( kill_at >= 0 && SECONDS >= kill_at && ${#remaining[@]} )); then
    echo "$PROG: still running ${GRACE}s after SIGTERM: sending SIGKILL" >&2
    signal_all KILL
    kill_at=-1
  fi
  (( ${#remaining[@]} == 0 )) || sleep 0.2
done
exit "$status"
