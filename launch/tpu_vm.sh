#!/usr/bin/env bash
# Cloud TPU VM slices for btrl-jax: create, set up, run a btrl command on every
# worker, read logs, ssh, delete. See docs/scaling.md.
#
#   launch/tpu_vm.sh create --name=btrl --zone=us-west4-a --accelerator-type=v5litepod-8
#   launch/tpu_vm.sh setup  --name=btrl --zone=us-west4-a
#   launch/tpu_vm.sh run    --name=btrl --zone=us-west4-a --workdir=gs://BUCKET/study \
#       -- btrl study --config=configs/study.py
#   launch/tpu_vm.sh logs   --name=btrl --zone=us-west4-a --follow
#   launch/tpu_vm.sh delete --name=btrl --zone=us-west4-a
#
# `setup` copies the committed tree (git archive HEAD, or --repo=URL cloned at
# --ref) to ~/btrl-jax on every worker and runs pip install -e '.[tpu]' into
# ~/btrl-venv (Python 3.12 from uv: TPU VM images ship 3.10). `run` mounts the
# --workdir bucket with gcsfuse at ~/gcs/BUCKET on every worker (btrl writes
# its workdir with ordinary file I/O) and runs the command there with
# BTRL_AUTO_DISTRIBUTED=1, so each host joins one jax.distributed job.
set -euo pipefail

readonly PROG="launch/tpu_vm.sh"
readonly REMOTE_DIR="btrl-jax"      # relative to the remote $HOME
readonly REMOTE_VENV="btrl-venv"
readonly REMOTE_LOG="btrl-logs/run.log"

usage() {
  cat <<'EOF'
usage: launch/tpu_vm.sh {create|setup|run|logs|ssh|delete} [flags] [-- COMMAND...]

flags (environment variable in brackets):
  --name=NAME               TPU VM name [TPU_NAME]                      (required)
  --zone=ZONE               e.g. us-west4-a [TPU_ZONE]                  (required)
  --accelerator-type=TYPE   create: slice type [TPU_ACCELERATOR_TYPE] (v5litepod-8)
  --version=VERSION         create: runtime [TPU_VERSION] (v2-alpha-tpuv5-lite)
  --project=PROJECT         GCP project [TPU_PROJECT] (default: gcloud's)
  --spot                    create: a spot (preemptible) slice
  --repo=URL --ref=REF      setup: clone URL at REF instead of copying git HEAD [BTRL_REPO]
  --workdir=gs://BUCKET/DIR run: the run's workdir, shared by all hosts [BTRL_WORKDIR]
  --detach                  run: start in the background; read it with `logs`
  --follow                  logs: keep following the log
  --worker=W                logs/ssh: worker index or `all` (logs: all; ssh: 0, or all with a COMMAND)
  --dry-run                 print every command instead of running it

run: COMMAND is a btrl command line run from the repo on every worker, with
--workdir appended, e.g.  -- btrl study --config=configs/study.py
ssh: with a COMMAND, runs it on the workers; without, opens a shell on one.
EOF
}

die_usage() {
  echo "$PROG: error: $*" >&2
  usage >&2
  exit 2
}

# Quote one word for display so the printed command can be pasted back into a shell.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# Runs a command, or prints it under --dry-run.
run_cmd() {
  if (( DRY_RUN )); then
    local out="" word
    for word in "$@"; do out+="$(quote "$word") "; done
    echo "${out% }"
  else
    "$@"
  fi
}

(( $# >= 1 )) || die_usage "missing subcommand"
SUBCOMMAND="$1"
shift
case "$SUBCOMMAND" in
  create|setup|run|logs|ssh|delete) ;;
  -h|--help) usage; exit 0 ;;
  *) die_usage "unknown subcommand '$SUBCOMMAND'" ;;
esac

NAME="${TPU_NAME:-}"
ZONE="${TPU_ZONE:-}"
ACCELERATOR_TYPE="${TPU_ACCELERATOR_TYPE:-v5litepod-8}"
VERSION="${TPU_VERSION:-v2-alpha-tpuv5-lite}"
PROJECT="${TPU_PROJECT:-}"
REPO="${BTRL_REPO:-}"
REF="main"
WORKDIR="${BTRL_WORKDIR:-}"
WORKER=""
SPOT=0
DETACH=0
FOLLOW=0
DRY_RUN=0
COMMAND=()

while (( $# )); do
  case "$1" in
    --name=*) NAME="${1#*=}" ;;
    --zone=*) ZONE="${1#*=}" ;;
    --accelerator-type=*) ACCELERATOR_TYPE="${1#*=}" ;;
    --version=*) VERSION="${1#*=}" ;;
    --project=*) PROJECT="${1#*=}" ;;
    --repo=*) REPO="${1#*=}" ;;
    --ref=*) REF="${1#*=}" ;;
    --workdir=*) WORKDIR="${1#*=}" ;;
    --worker=*) WORKER="${1#*=}" ;;
    --spot) SPOT=1 ;;
    --detach) DETACH=1 ;;
    --follow) FOLLOW=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; COMMAND=("$@"); break ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done

[[ -n "$NAME" ]] || die_usage "--name (or TPU_NAME) is required"
[[ -n "$ZONE" ]] || die_usage "--zone (or TPU_ZONE) is required"
[[ -z "$WORKER" || "$WORKER" == all || "$WORKER" =~ ^[0-9]+$ ]] \
  || die_usage "--worker must be a worker index or 'all', got '$WORKER'"
if (( ${#COMMAND[@]} )) && [[ "$SUBCOMMAND" != run && "$SUBCOMMAND" != ssh ]]; then
  die_usage "$SUBCOMMAND takes no command after --"
fi

GCLOUD=(gcloud compute tpus tpu-vm)
COMMON=("--zone=$ZONE")
[[ -z "$PROJECT" ]] || COMMON+=("--project=$PROJECT")

# Joins shell steps with "; " (a step ending in `&` must come last).
join_steps() {
  local out="$1"
  shift
  local step
  for step in "$@"; do out+="; $step"; done
  printf '%s' "$out"
}

# Runs a shell snippet on workers ($1: all or an index).
remote() {
  run_cmd "${GCLOUD[@]}" ssh "$NAME" "${COMMON[@]}" "--worker=$1" "--command=$2"
}

cmd_create() {
  local extra=()
  (( SPOT )) && extra+=(--spot)
  run_cmd "${GCLOUD[@]}" create "$NAME" "${COMMON[@]}" "--accelerator-type=$ACCELERATOR_TYPE" \
    "--version=$VERSION" "${extra[@]}"
}

cmd_setup() {
  local home="\$HOME" fetch
  if [[ -n "$REPO" ]]; then
    fetch="rm -rf $home/$REMOTE_DIR && git clone --depth=1 --branch=$(quote "$REF") $(quote "$REPO") $home/$REMOTE_DIR"
  else
    local root archive
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    archive="${TMPDIR:-/tmp}/btrl-jax-$NAME.tar.gz"
    run_cmd git -C "$root" archive --format=tar.gz -o "$archive" HEAD
    run_cmd "${GCLOUD[@]}" scp "$archive" "$NAME:btrl-jax.tar.gz" "${COMMON[@]}" --worker=all
    fetch="rm -rf $home/$REMOTE_DIR && mkdir -p $home/$REMOTE_DIR && tar -xzf $home/btrl-jax.tar.gz -C $home/$REMOTE_DIR"
  fi
  local gcsfuse_repo="deb [signed-by=/usr/share/keyrings/cloud.google.asc] https://packages.cloud.google.com/apt gcsfuse-\$(lsb_release -cs) main"
  local steps=(
    "set -euo pipefail"
    "$fetch"
    "command -v gcsfuse >/dev/null || { echo \"$gcsfuse_repo\" | sudo tee /etc/apt/sources.list.d/gcsfuse.list >/dev/null && curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo tee /usr/share/keyrings/cloud.google.asc >/dev/null && sudo apt-get update -q && sudo apt-get install -yq gcsfuse; }"
    "[ -x $home/.local/bin/uv ] || curl -LsSf https://astral.sh/uv/install.sh | sh"
    "$home/.local/bin/uv venv --seed --allow-existing --python=3.12 $home/$REMOTE_VENV"
    "cd $home/$REMOTE_DIR && $home/$REMOTE_VENV/bin/pip install -q -e \".[tpu]\""
  )
  remote all "$(join_steps "${steps[@]}")"
}

cmd_run() {
  (( ${#COMMAND[@]} )) || die_usage "run needs a command after --, e.g. -- btrl study --config=configs/study.py"
  [[ "$WORKDIR" =~ ^gs://([a-z0-9._-]+)(/[A-Za-z0-9._/-]*)?$ ]] \
    || die_usage "run needs --workdir=gs://BUCKET/DIR (shared by every host), got '${WORKDIR}'"
  local bucket="${BASH_REMATCH[1]}" path="${BASH_REMATCH[2]:-}" word line=""
  for word in "${COMMAND[@]}"; do
    [[ "$word" != --workdir* ]] || die_usage "give the workdir as --workdir=gs://... before --, not in the command"
    line+="$(quote "$word") "
  done
  # \$HOME stays literal here and expands on each worker; `env` sets PATH before it looks up the command.
  local home="\$HOME"
  local mount="$home/gcs/$bucket" log="$home/$REMOTE_LOG"
  local launch="env BTRL_AUTO_DISTRIBUTED=1 PATH=$home/$REMOTE_VENV/bin:\$PATH ${line}--workdir=$mount$path"
  local steps=(
    "set -euo pipefail"
    "mkdir -p $(dirname "$log") $mount"
    "mountpoint -q $mount || gcsfuse --implicit-dirs $bucket $mount"
    "cd $home/$REMOTE_DIR"
  )
  if (( DETACH )); then
    steps+=("setsid nohup $launch >> $log 2>&1 < /dev/null &")
  else
    steps+=("$launch 2>&1 | tee -a $log")
  fi
  remote all "$(join_steps "${steps[@]}")"
}

cmd_logs() {
  local tail_cmd="tail -n 200"
  (( FOLLOW )) && tail_cmd+=" -F"
  remote "${WORKER:-all}" "$tail_cmd \$HOME/$REMOTE_LOG"
}

cmd_ssh() {
  if (( ${#COMMAND[@]} )); then
    local line="" word
    for word in "${COMMAND[@]}"; do line+="$(quote "$word") "; done
    remote "${WORKER:-all}" "${line% }"
  else
    run_cmd "${GCLOUD[@]}" ssh "$NAME" "${COMMON[@]}" "--worker=${WORKER:-0}"
  fi
}

cmd_delete() {
  run_cmd "${GCLOUD[@]}" delete "$NAME" "${COMMON[@]}" --quiet
}

"cmd_$SUBCOMMAND"
