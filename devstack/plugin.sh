#!/bin/bash
# os-tracing devstack plugin: enable_plugin os-tracing <git url>
#
# Paste and oslo.config files are edited by "os-tracing enable"/"disable" (tested
# Python); uwsgi ini files with devstack's own ini helpers, keeping devstack's original
# to restore byte for byte. This script decides which files, at which phase of stack.sh:
#
#   stack.sh order                          what this plugin does then
#   configure_keystone/glance/cinder/nova/
#     placement (writes confs, uwsgi inis)
#   run_phase stack install                 install; start sampling/UI servers;
#                                           keystone (it starts right after this)
#   init_keystone; start_keystone
#   configure_neutron; init_*; init_nova
#     (nova-manage cell_v2 create_cell)
#   run_phase stack post-config             every other service; the cell mappings
#   start_swift/nova/placement/neutron/
#     cinder/glance (start_nova_compute
#     rewrites nova-cpu.conf)
#   run_phase stack extra                   nova-cpu.conf, then restart nova-compute
#   unstack.sh: run_phase unstack           stop servers, restore every file, mappings
#   clean.sh: run_phase clean               the same restore (already done: no-op)

# Options appended to a [tracing] block that "enable" added.
function _os_tracing_options {
    echo "exporters = $OS_TRACING_EXPORTERS"
    if [[ -n $OS_TRACING_SAMPLING_STRATEGIES ]]; then
        echo "sampler = parentbased_jaeger_remote"
        echo "sampler_arg = endpoint=http://127.0.0.1:$OS_TRACING_SAMPLING_PORT/sampling"
    else
        echo "sampler = $OS_TRACING_SAMPLER"
        if [[ -n $OS_TRACING_SAMPLER_ARG ]]; then
            echo "sampler_arg = $OS_TRACING_SAMPLER_ARG"
        fi
    fi
}

# The os-tracing command, by absolute path: run_process refuses anything else, and
# unstack/clean do not run inside devstack's venv.
function _os_tracing_cli {
    echo "${OS_TRACING_BIN_DIR:-$(get_python_exec_prefix)}/os-tracing"
}

# The files of a service, one per line, from devstack's own variables (lib/*):
#   paste FILE            api-paste.ini: the tracing filter
#   conf FILE             oslo.config file: traced+ transport URLs, [tracing]
#   name INI NAME         uwsgi ini: env OTEL_SERVICE_NAME=NAME
#   wrap INI NAME CONF    uwsgi ini: load tracing_middleware.wsgi around the app
# Several processes share one conf (nova.conf: nova-api, nova-metadata, scheduler,
# superconductor), so the service name is set per process, never in the conf: in the
# uwsgi ini. NOTE: not through SYSTEMD_ENV_VARS for the other units: devstack's
# write_user_unit_file writes it with iniset over the unit's Environment="PATH=..."
# line, and nova-compute finds rootwrap through that PATH.
function _os_tracing_files {
    local i
    case $1 in
        keystone)
            echo "conf ${KEYSTONE_CONF:-/etc/keystone/keystone.conf}"
            echo "wrap ${KEYSTONE_PUBLIC_UWSGI_CONF:-/etc/keystone/keystone-uwsgi-public.ini}" \
                "keystone ${KEYSTONE_CONF:-/etc/keystone/keystone.conf}"
            ;;
        placement)
            echo "conf ${PLACEMENT_CONF:-/etc/placement/placement.conf}"
            echo "wrap ${PLACEMENT_UWSGI_CONF:-/etc/placement/placement-uwsgi.ini}" \
                "placement-api ${PLACEMENT_CONF:-/etc/placement/placement.conf}"
            ;;
        nova)
            echo "paste ${NOVA_API_PASTE_INI:-/etc/nova/api-paste.ini}"
            echo "conf ${NOVA_CONF:-/etc/nova/nova.conf}"
            # The cell conductors' files; create_cell copied their URL into the API DB.
            for i in $(seq 1 "${NOVA_NUM_CELLS:-1}"); do
                echo "conf ${NOVA_CONF_DIR:-/etc/nova}/nova_cell$i.conf"
            done
            echo "name ${NOVA_UWSGI_CONF:-/etc/nova/nova-api-uwsgi.ini} nova-api"
            echo "name ${NOVA_METADATA_UWSGI_CONF:-/etc/nova/nova-metadata-uwsgi.ini}" \
                "nova-metadata"
            ;;
        glance)
            echo "paste ${GLANCE_API_PASTE_INI:-/etc/glance/glance-api-paste.ini}"
            echo "conf ${GLANCE_API_CONF:-/etc/glance/glance-api.conf}"
            echo "name ${GLANCE_UWSGI_CONF:-/etc/glance/glance-uwsgi.ini} glance-api"
            ;;
        cinder)
            echo "paste ${CINDER_API_PASTE_INI:-/etc/cinder/api-paste.ini}"
            echo "conf ${CINDER_CONF:-/etc/cinder/cinder.conf}"
            echo "name ${CINDER_UWSGI_CONF:-/etc/cinder/cinder-api-uwsgi.ini} cinder-api"
            ;;
        neutron)
            echo "paste ${Q_API_PASTE_FILE:-/etc/neutron/api-paste.ini}"
            echo "conf ${NEUTRON_CONF:-/etc/neutron/neutron.conf}"
            echo "name ${NEUTRON_UWSGI_CONF:-/etc/neutron/neutron-api-uwsgi.ini} neutron-api"
            ;;
        heat)
            echo "paste ${HEAT_API_PASTE_FILE:-/etc/heat/api-paste.ini}"
            echo "conf ${HEAT_CONF:-/etc/heat/heat.conf}"
            ;;
        swift)
            echo "paste ${SWIFT_CONF_DIR:-/etc/swift}/proxy-server.conf"
            ;;
    esac
}

# A uwsgi app's WSGI callable as module:attribute, from the ini devstack wrote.
function _os_tracing_uwsgi_target {
    local ini=$1 target
    target=$(iniget "$ini" uwsgi module)
    if [[ -n $target ]]; then
        echo "$target"
        return
    fi
    # Older devstack: wsgi-file = the pbr script; the wrapper needs the importable
    # callable the script exposes.
    case $(basename "$(iniget "$ini" uwsgi wsgi-file)") in
        keystone-wsgi-public) echo "keystone.wsgi.api:application" ;;
        placement-api) echo "placement.wsgi.api:application" ;;
    esac
}

function _os_tracing_backup {
    echo "$OS_TRACING_STATE_DIR/${1//\//%}"
}

# _os_tracing_uwsgi_enable INI NAME [CONF]: env OTEL_SERVICE_NAME=NAME and, with CONF,
# the wrapper around the original application.
function _os_tracing_uwsgi_enable {
    local ini=$1 name=$2 conf=${3:-} target backup
    if [[ ! -f $ini ]] || grep -q "^env = OTEL_SERVICE_NAME=" "$ini"; then
        return 0
    fi
    if [[ -n $conf ]]; then
        target=$(_os_tracing_uwsgi_target "$ini")
        if [[ -z $target ]]; then
            warn "os-tracing: no module:callable known for $ini; $name is not traced"
            return 0
        fi
    fi
    backup=$(_os_tracing_backup "$ini")
    mkdir -p "$OS_TRACING_STATE_DIR"
    cp -p "$ini" "$backup"
    if [[ -n $conf ]]; then
        inicomment "$ini" uwsgi wsgi-file
        iniset "$ini" uwsgi module tracing_middleware.wsgi:application
        # "env" repeats, so iniset (one value per key) does not fit; iniadd_literal
        # adds a line. uwsgi applies every env before it loads the module.
        iniadd_literal "$ini" uwsgi env "OS_TRACING_CONFIG_FILE=$conf"
        iniadd_literal "$ini" uwsgi env "OS_TRACING_WSGI_APP=$target"
    fi
    # OTEL_SERVICE_NAME yields to a [tracing] service_name in the conf, which is unset.
    iniadd_literal "$ini" uwsgi env "OTEL_SERVICE_NAME=$name"
}

# _os_tracing_conf_enable CONF: traced+ URLs and a [tracing] block.
function _os_tracing_conf_enable {
    local conf=$1 line
    [[ -f $conf ]] || return 0
    if grep -q "^\[tracing\]" "$conf"; then
        "$(_os_tracing_cli)" enable --config-file "$conf"
        if ! grep -q "^# os-tracing: added by" "$conf"; then
            # The operator's own [tracing] section: set our options in it.
            while IFS= read -r line; do
                iniset "$conf" tracing "${line%% = *}" "${line#* = }"
            done < <(_os_tracing_options)
        fi
        # else: our block, options in it (nova-cpu.conf is a copy of nova.conf).
        return 0
    fi
    "$(_os_tracing_cli)" enable --config-file "$conf"
    # enable appended its [tracing] block at the end; the options go after its marker
    # line, inside the block "disable" removes. (iniset would put them between the
    # header and the marker, and disable would no longer find the block.)
    _os_tracing_options >> "$conf"
}

function _os_tracing_enable_service {
    local service=$1 kind path name conf
    while read -r kind path name conf; do
        case $kind in
            paste)
                if [[ -f $path ]]; then
                    "$(_os_tracing_cli)" enable --paste-config "$path"
                fi
                ;;
            conf) _os_tracing_conf_enable "$path" ;;
            name) _os_tracing_uwsgi_enable "$path" "$name" ;;
            wrap) _os_tracing_uwsgi_enable "$path" "$name" "$conf" ;;
        esac
    done < <(_os_tracing_files "$service")
}

function _os_tracing_disable_service {
    local service=$1 kind path rest
    while read -r kind path rest; do
        case $kind in
            paste) [[ -f $path ]] && "$(_os_tracing_cli)" disable --paste-config "$path" ;;
            conf) [[ -f $path ]] && "$(_os_tracing_cli)" disable --config-file "$path" ;;
        esac
    done < <(_os_tracing_files "$service")
    if [[ $service == nova && -f ${NOVA_CPU_CONF:-/etc/nova/nova-cpu.conf} ]]; then
        "$(_os_tracing_cli)" disable --config-file "${NOVA_CPU_CONF:-/etc/nova/nova-cpu.conf}"
    fi
    return 0
}

# Each cell mapping's transport URL := its nova_cellN.conf's. init_nova ran
# "nova-manage cell_v2 create_cell" before post-config, so the API database holds the
# untraced URL the cell's computes and conductor are reached by.
function _os_tracing_sync_cells {
    is_service_enabled n-api || return 0
    # shellcheck disable=SC2086  # a list of service names, as devstack passes it
    is_service_enabled ${DATABASE_BACKENDS:-mysql postgresql} || return 0
    local manage=$NOVA_BIN_DIR/nova-manage cells i conf url uuid
    [[ -x $manage ]] || return 0
    cells=$("$manage" --config-file "$NOVA_CONF" cell_v2 list_cells) || return 0
    for i in $(seq 1 "${NOVA_NUM_CELLS:-1}"); do
        conf=$(conductor_conf "$i")
        [[ -f $conf ]] || continue
        url=$(iniget "$conf" DEFAULT transport_url)
        uuid=$(awk -F'|' -v name="cell$i" \
            '{ gsub(/ /, "", $2); gsub(/ /, "", $3) } $2 == name { print $3 }' <<< "$cells")
        if [[ -n $url && -n $uuid ]]; then
            "$manage" --config-file "$NOVA_CONF" cell_v2 update_cell --cell_uuid "$uuid" \
                --transport-url "$url"
        fi
    done
}

function install_os_tracing {
    setup_develop "$OS_TRACING_DIR"
    local store=${OS_TRACING_EXPORTERS%%,*}
    if [[ $store == sqlite:///* ]]; then
        mkdir -p "$(dirname "${store#sqlite://}")"
    fi
}

# Services in OS_TRACING_SERVICES that are enabled, among those given.
function _os_tracing_selected {
    local service
    for service in "$@"; do
        if [[ " $OS_TRACING_SERVICES " == *" $service "* ]] && is_service_enabled "$service"; then
            echo "$service"
        fi
    done
}

function configure_os_tracing {
    local service
    for service in "$@"; do
        if [[ $service == nova ]] && type -t async_wait > /dev/null; then
            # NOTE: configure_neutron_nova edits nova.conf in the background until
            # stack.sh waits for it after post-config; wait now or one edit is lost.
            # stack.sh's own wait then finds it done.
            async_wait configure_neutron_nova
        fi
        _os_tracing_enable_service "$service"
        if [[ $service == nova ]]; then
            _os_tracing_sync_cells
        fi
    done
}

# start_nova_compute (after post-config) writes nova-cpu.conf afresh: a copy of
# nova.conf whose [DEFAULT] transport_url it resets to the cell's rabbit:// URL
# (superconductor). nova-compute has read it, so a change needs a restart.
function configure_os_tracing_compute {
    local conf=${NOVA_CPU_CONF:-/etc/nova/nova-cpu.conf} before i
    [[ -f $conf ]] || return 0
    before=$(cksum < "$conf")
    _os_tracing_conf_enable "$conf"
    if [[ $(cksum < "$conf") != "$before" ]]; then
        if [[ ${VIRT_DRIVER:-} == fake ]]; then
            for i in $(seq 1 "${NUMBER_FAKE_NOVA_COMPUTE:-1}"); do
                is_service_enabled n-cpu && restart_service "devstack@n-cpu-$i.service"
            done
        elif is_service_enabled n-cpu; then
            restart_service devstack@n-cpu.service
        fi
    fi
}

# Started at "stack install": before keystone, the first traced service, starts.
function start_os_tracing {
    local cli store=${OS_TRACING_EXPORTERS%%,*}
    cli=$(_os_tracing_cli)
    if [[ -n $OS_TRACING_SAMPLING_STRATEGIES ]]; then
        run_process os-tracing-sampling "$cli sampling serve --strategies \
$OS_TRACING_SAMPLING_STRATEGIES --port $OS_TRACING_SAMPLING_PORT"
    fi
    if is_service_enabled os-tracing-ui; then
        if [[ $store != sqlite://* ]]; then
            warn "os-tracing: OS_TRACING_UI needs a sqlite:// store first in" \
                "OS_TRACING_EXPORTERS (got $store); os-tracing-ui not started"
        else
            run_process os-tracing-ui "$cli serve --store $store \
--host $OS_TRACING_UI_HOST --port $OS_TRACING_UI_PORT"
        fi
    fi
}

function stop_os_tracing {
    stop_process os-tracing-ui
    stop_process os-tracing-sampling
}

# Undo everything, whatever the phase it was done in; a second run changes nothing.
function clean_os_tracing {
    local service backup ini
    for service in $OS_TRACING_SERVICES; do
        _os_tracing_disable_service "$service"
    done
    if [[ -d $OS_TRACING_STATE_DIR ]]; then
        for backup in "$OS_TRACING_STATE_DIR"/*; do
            [[ -f $backup ]] || continue
            ini=$(basename "$backup")
            ini=${ini//%//}
            if [[ -d $(dirname "$ini") ]]; then
                mv -f "$backup" "$ini"
            else
                rm -f "$backup"
            fi
        done
    fi
}

if is_service_enabled os-tracing; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        install_os_tracing
        start_os_tracing
        # shellcheck disable=SC2046  # one service name per word
        configure_os_tracing $(_os_tracing_selected keystone)
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        # shellcheck disable=SC2046
        configure_os_tracing $(_os_tracing_selected placement nova glance cinder neutron \
            heat swift)
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        if [[ -n $(_os_tracing_selected nova) ]]; then
            configure_os_tracing_compute
        fi
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_os_tracing
        clean_os_tracing
        if [[ " $OS_TRACING_SERVICES " == *" nova "* ]]; then
            _os_tracing_sync_cells
        fi
    fi
    if [[ "$1" == "clean" ]]; then
        clean_os_tracing
    fi
fi
