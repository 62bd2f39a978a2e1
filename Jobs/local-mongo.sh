#!/usr/bin/env bash
# The local MongoDB-compatible server for the sample run and the tests: SecantusDB (PyPI, GPL-2.0),
# run as an external process in a project-local virtual environment (.venv-mongo, ignored by git).
#
#   Jobs/local-mongo.sh install                      install it (idempotent, ~40 s the first time)
#   Jobs/local-mongo.sh start [--state-dir DIR] [--watch-pid PID] [--storage DIR] [--port N] [--cache-size SIZE]
#                                                    start it on a free 127.0.0.1 port, wait until it
#                                                    answers a ping, print its URI on stdout;
#                                                    with --watch-pid, stop it when PID exits;
#                                                    data lives in memory unless --storage names a
#                                                    directory (then it survives a restart);
#                                                    --cache-size (e.g. 4G; the server's default 1G)
#                                                    for data sets of a GiB or more: a full cache
#                                                    fails writes (WT_CACHE_FULL)
#   Jobs/local-mongo.sh stop [--state-dir DIR]       stop the server started with that state dir
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MUSICETL_MONGO_VENV:-$root/.venv-mongo}
version="0.7.0b3"   # a pre-release: pinned
state_dir=$root/.venv-mongo/run
watch_pid=""
storage=":memory:"
port=""
cache_size=""

command=${1:-}
shift || true
while [ $# -gt 0 ]; do
    case $1 in
        --state-dir) state_dir=$2; shift 2 ;;
        --watch-pid) watch_pid=$2; shift 2 ;;
        --storage) storage=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --cache-size) cache_size=$2; shift 2 ;;
        *) echo "local-mongo: unknown option $1" >&2; exit 64 ;;
    esac
done

# Close every descriptor inherited above stderr (bash reads this script on 255: keep it). A
# multi-threaded caller (the test harness) may spawn this script while another thread holds a
# pipe's write end open; the server outlives the call, and would keep that pipe's reader waiting
# for an end of file that never comes.
for fd in /proc/$$/fd/*; do
    n=${fd##*/}
    if [ "$n" -gt 2 ] 2>/dev/null && [ "$n" -ne 255 ]; then eval "exec $n>&-" 2>/dev/null || true; fi
done

install() {
    if [ -x "$venv/bin/secantusd-py" ] && "$venv/bin/python" -c "import pymongo" 2>/dev/null; then
        return 0
    fi
    echo "local-mongo: installing SecantusDB $version into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "SecantusDB==$version"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    install
    mkdir -p "$state_dir"
    local uri pid
    [ -n "$port" ] || port=$(free_port)
    uri="mongodb://127.0.0.1:$port/?directConnection=true"
    # Output goes to a file: a pipe that nobody drains can hang the server. The signal mask is
    # cleared first: a parent that blocks SIGTERM (a thread pool, a CI runner) would pass that on
    # and the server could never be stopped politely.
    nohup "$venv/bin/python" -c 'import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])' \
        "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$storage" \
        --log-level WARNING ${cache_size:+--cache-size "$cache_size"} > "$state_dir/server.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$state_dir/pid"
    echo "$uri" > "$state_dir/uri"
    for _ in $(seq 1 100); do
        if "$venv/bin/python" - "$uri" <<'PY' 2>/dev/null; then
import sys, pymongo
pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=200).admin.command("ping")
PY
            if [ -n "$watch_pid" ]; then
                # Stop the server when the process that asked for it ends, however it ends.
                ( trap '' HUP; while kill -0 "$watch_pid" 2>/dev/null; do sleep 1; done
                  stop_pid "$pid" ) > /dev/null 2>&1 < /dev/null &
                disown
            fi
            echo "$uri"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "local-mongo: the server exited at start; its log ($state_dir/server.log):" >&2
            tail -20 "$state_dir/server.log" >&2
            return 69
        fi
        sleep 0.1
    done
    echo "local-mongo: no answer to ping on $uri after 10 s (log: $state_dir/server.log)" >&2
    kill -TERM "$pid" 2>/dev/null || true
    return 69
}

# TERM, then KILL if it is still there after 5 s.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

stop() {
    [ -f "$state_dir/pid" ] || return 0
    stop_pid "$(cat "$state_dir/pid")"
    rm -f "$state_dir/pid" "$state_dir/uri"
}

case $command in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install | start [--state-dir DIR] [--watch-pid PID] | stop [--state-dir DIR]" >&2; exit 64 ;;
esac
