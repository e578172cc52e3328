#!/bin/bash
# Small functional stand-ins for the devstack helpers plugin.sh calls. They act on the
# temporary tree the test made; run_process/stop_process record what would be started.

function trueorfalse {
    local default=$1 value=${!2:-}
    case ${value,,} in
        1|yes|true|on) echo True ;;
        0|no|false|off) echo False ;;
        "") echo "$default" ;;
        *) echo "$default" ;;
    esac
}

function enable_service { ENABLED_SERVICES="${ENABLED_SERVICES:-},$*"; }

function is_service_enabled {
    local service
    for service in "$@"; do
        [[ ,$ENABLED_SERVICES, == *",$service,"* ]] && return 0
    done
    return 1
}

function iniset {
    python3 - "$@" <<'PY'
import sys
path, section, key, value = sys.argv[1:5]
lines = open(path).read().splitlines(keepends=True)
out, in_section, done = [], False, False
for line in lines:
    stripped = line.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        if in_section and not done:
            out.append(f"{key} = {value}\n")
            done = True
        in_section = stripped[1:-1] == section
    elif in_section and stripped.split("=", 1)[0].strip() == key and not done:
        line = f"{key} = {value}\n"
        done = True
    out.append(line)
if not done:
    if not in_section:
        out.append(f"\n[{section}]\n")
    out.append(f"{key} = {value}\n")
open(path, "w").write("".join(out))
PY
}

function setup_develop { echo "setup_develop $*" >> "$STUB_LOG"; }
function run_process { echo "run_process $1 :: $2" >> "$STUB_LOG"; }
function stop_process { echo "stop_process $1" >> "$STUB_LOG"; }
function get_python_exec_prefix { echo "$OS_TRACING_TEST_BIN"; }
function warn { echo "WARNING: $*" >&2; }
function restart_service { echo "restart_service $1" >> "$STUB_LOG"; }
