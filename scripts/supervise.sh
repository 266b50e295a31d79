#!/usr/bin/env bash
# Keeps one daemon running where systemd is not PID 1, as tenks' units in deploy/systemd do there:
# restarts it when it fails (Restart=on-failure) or whenever it ends (Restart=always), RestartSec
# after it ended; appends its output to a log; on TERM or INT stops it with its KillSignal, kills
# it after TimeoutStopSec, and does not restart it.
#
# Against crash loops the delay doubles each time the daemon ends sooner than --stable-sec after
# its start, up to --max-restart-sec, and falls back to --restart-sec once it stayed up that long.
# (systemd instead gives up after StartLimitBurst starts within StartLimitIntervalSec; a lab host
# without systemd has nobody to restart the unit by hand, so this keeps trying, slowly.)
#
#   supervise.sh --name NAME --pid-dir DIR --log FILE [--restart on-failure|always|no]
#                [--restart-sec S] [--max-restart-sec S] [--stable-sec S]
#                [--kill-signal SIGNAL] [--timeout-stop-sec S] -- COMMAND [ARG...]
#
# Defaults are systemd's and our units': on-failure, 2 s, 60 s, 30 s, SIGTERM, 90 s. Seconds may
# have decimals. Pid files: DIR/NAME.pid holds the daemon's pid (rewritten at every start),
# DIR/NAME.supervisor.pid this script's; both are removed when the supervisor ends.
set -uo pipefail

name='' pid_dir='' log='' restart=on-failure restart_sec=2 max_restart_sec=60 stable_sec=30
kill_signal=SIGTERM timeout_stop_sec=90
usage() {
  sed -n '12,14p' "$0" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=$2 ;;
    --pid-dir) pid_dir=$2 ;;
    --log) log=$2 ;;
    --restart) restart=$2 ;;
    --restart-sec) restart_sec=$2 ;;
    --max-restart-sec) max_restart_sec=$2 ;;
    --stable-sec) stable_sec=$2 ;;
    --kill-signal) kill_signal=$2 ;;
    --timeout-stop-sec) timeout_stop_sec=$2 ;;
    --)
      shift
      break
      ;;
    *)
      echo "supervise.sh: unknown option '$1'" >&2
      usage
      ;;
  esac
  shift 2 || usage
done
[ -n "$name" ] && [ -n "$pid_dir" ] && [ -n "$log" ] && [ $# -gt 0 ] || usage
case $restart in on-failure | always | no) ;; *)
  echo "supervise.sh: --restart must be on-failure, always or no, not '$restart'" >&2
  exit 2
  ;;
esac
for v in "$restart_sec" "$max_restart_sec" "$stable_sec" "$timeout_stop_sec"; do
  [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
    echo "supervise.sh: '$v' is not a number of seconds" >&2
    exit 2
  }
done
kill -l "${kill_signal#SIG}" >/dev/null 2>&1 || {
  echo "supervise.sh: unknown signal '$kill_signal'" >&2
  exit 2
}

ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }
secs() { awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }'; }
now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }
say() { echo "$(date -Is) supervise[$name]: $*" >>"$log"; }

restart_ms=$(ms "$restart_sec")
max_restart_ms=$(ms "$max_restart_sec")
stable_ms=$(ms "$stable_sec")
pid_file=$pid_dir/$name.pid
self_file=$pid_dir/$name.supervisor.pid
mkdir -p "$pid_dir" "$(dirname "$log")"
echo $$ >"$self_file"

child='' stopping=0 killer='' sleeper='' signalled=''

# Sends the daemon its KillSignal once, and SIGKILL after TimeoutStopSec.
stop_child() {
  [ -n "$child" ] && [ "$signalled" != "$child" ] && kill -0 "$child" 2>/dev/null || return 0
  signalled=$child
  say "stopping pid $child with $kill_signal (killed after ${timeout_stop_sec} s)"
  kill -s "${kill_signal#SIG}" "$child" 2>/dev/null
  (
    # Ended by the supervisor when the daemon is gone: its sleep goes with it.
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    sleep "$timeout_stop_sec" &
    nap=$!
    wait "$nap"
    # Logged first: the supervisor ends this subshell as soon as the daemon is gone.
    kill -0 "$child" 2>/dev/null &&
      echo "$(date -Is) supervise[$name]: pid $child killed after ${timeout_stop_sec} s" >>"$log" &&
      kill -s KILL "$child" 2>/dev/null
  ) &
  killer=$!
}

on_stop() {
  stopping=1
  stop_child
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
}
trap on_stop TERM INT

finish() {
  [ -n "$killer" ] && kill "$killer" 2>/dev/null
  [ "$(cat "$pid_file" 2>/dev/null)" = "$child" ] && rm -f "$pid_file"
  [ "$(cat "$self_file" 2>/dev/null)" = "$$" ] && rm -f "$self_file"
  say "$1"
  exit "${2:-0}"
}

# Whether Restart= restarts after exit status $1. As systemd's on-failure: not after a clean exit,
# nor after SIGHUP, SIGINT, SIGTERM or SIGPIPE (statuses 129, 130, 143, 141).
should_restart() {
  case $restart in
    always) return 0 ;;
    no) return 1 ;;
  esac
  case $1 in 0 | 129 | 130 | 141 | 143) return 1 ;; esac
  return 0
}

delay_ms=$restart_ms
while :; do
  [ "$stopping" = 1 ] && finish "stopped before starting again"
  started_ms=$(now_ms)
  # Background commands of a script start with SIGINT and SIGQUIT ignored; the daemon gets the
  # default dispositions back, so that its KillSignal (SIGINT for NATS) reaches it.
  env --default-signal "$@" >>"$log" 2>&1 </dev/null &
  child=$!
  echo "$child" >"$pid_file"
  say "started pid $child: $*"
  # A stop asked for while the daemon was being started.
  [ "$stopping" = 1 ] && stop_child
  while :; do
    wait "$child"
    status=$?
    [ "$status" -le 128 ] && break
    # 128+n: the daemon died of signal n, or a trapped signal interrupted wait. Asking again tells
    # them apart: a daemon still running is waited for; one that ended meanwhile reports its own
    # status (127 when that was already reported).
    kill -0 "$child" 2>/dev/null && continue
    wait "$child" 2>/dev/null
    again=$?
    [ "$again" -ne 127 ] && status=$again
    break
  done
  [ "$(cat "$pid_file" 2>/dev/null)" = "$child" ] && rm -f "$pid_file"
  [ "$stopping" = 1 ] && finish "pid $child stopped (status $status); not restarted"
  ran_ms=$(($(now_ms) - started_ms))
  if ! should_restart "$status"; then
    finish "pid $child exited with status $status after $(secs "$ran_ms") s; not restarted (Restart=$restart)" "$status"
  fi
  [ "$ran_ms" -ge "$stable_ms" ] && delay_ms=$restart_ms
  say "pid $child exited with status $status after $(secs "$ran_ms") s; restarting in $(secs "$delay_ms") s"
  sleep "$(secs "$delay_ms")" &
  sleeper=$!
  [ "$stopping" = 1 ] && kill "$sleeper" 2>/dev/null
  wait "$sleeper" 2>/dev/null
  sleeper=''
  [ "$stopping" = 1 ] && finish "stopped while waiting to restart"
  delay_ms=$((delay_ms * 2 > max_restart_ms ? max_restart_ms : delay_ms * 2))
done
