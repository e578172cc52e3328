#!/bin/bash
# os-tracing devstack plugin: enable_plugin os-tracing <git url>
#
# All file edits are done by "os-tracing enable" (tested Python); this script only
# decides which files, at which devstack phase.

# The paste file and the configuration file of a service, relative to OS_TRACING_ETC.
function _os_tracing_files {
    case $1 in
        nova) echo "nova/api-paste.ini nova/nova.conf" ;;
        cinder) echo "cinder/api-paste.ini cinder/cinder.conf" ;;
        glance) echo "glance/glance-api-paste.ini glance/glance-api.conf" ;;
        neutron) echo "neutron/api-paste.ini neutron/neutron.conf" ;;
        heat) echo "heat/api-paste.ini heat/heat.conf" ;;
        swift) echo "swift/proxy-server.conf -" ;;
        keystone) echo "- keystone/keystone.conf" ;;
        placement) echo "- placement/placement.conf" ;;
        *) echo "- -" ;;
    esac
}

function _os_tracing_cmd {
    local action=$1 service=$2 paste conf
    read -r paste conf <<< "$(_os_tracing_files "$service")"
    local args=()
    if [[ $paste != "-" && -f $OS_TRACING_ETC/$paste ]]; then
        args+=(--paste-config "$OS_TRACING_ETC/$paste")
    fi
    if [[ $conf != "-" && -f $OS_TRACING_ETC/$conf ]]; then
        args+=(--config-file "$OS_TRACING_ETC/$conf")
    fi
    if [[ ${#args[@]} -eq 0 ]]; then
        return 0
    fi
    if [[ $action == enable ]]; then
        args+=(--service-name "$service-api")
    fi
    os-tracing "$action" "${args[@]}"
}

function install_os_tracing {
    setup_develop "$OS_TRACING_DIR"
}

function configure_os_tracing {
    local service conf
    for service in $OS_TRACING_SERVICES; do
        if ! is_service_enabled "$service"; then
            continue
        fi
        _os_tracing_cmd enable "$service"
        read -r _ conf <<< "$(_os_tracing_files "$service")"
        if [[ $conf != "-" && -f $OS_TRACING_ETC/$conf ]]; then
            iniset "$OS_TRACING_ETC/$conf" tracing exporters "$OS_TRACING_EXPORTERS"
            iniset "$OS_TRACING_ETC/$conf" tracing sampler "$OS_TRACING_SAMPLER"
            if [[ -n $OS_TRACING_SAMPLING_STRATEGIES ]]; then
                iniset "$OS_TRACING_ETC/$conf" tracing sampler parentbased_jaeger_remote
                iniset "$OS_TRACING_ETC/$conf" tracing sampler_arg \
                    "endpoint=http://127.0.0.1:$OS_TRACING_SAMPLING_PORT/sampling"
            elif [[ -n $OS_TRACING_SAMPLER_ARG ]]; then
                iniset "$OS_TRACING_ETC/$conf" tracing sampler_arg "$OS_TRACING_SAMPLER_ARG"
            fi
        fi
    done
}

function start_os_tracing {
    local store=${OS_TRACING_EXPORTERS%%,*}
    if [[ $OS_TRACING_UI == "True" && $store == sqlite://* ]]; then
        run_process os-tracing-ui \
            "os-tracing serve --store $store --host 0.0.0.0 --port $OS_TRACING_UI_PORT"
    fi
    if [[ -n $OS_TRACING_SAMPLING_STRATEGIES ]]; then
        run_process os-tracing-sampling \
            "os-tracing sampling serve --strategies $OS_TRACING_SAMPLING_STRATEGIES --port $OS_TRACING_SAMPLING_PORT"
    fi
}

function stop_os_tracing {
    stop_process os-tracing-ui
    stop_process os-tracing-sampling
}

function clean_os_tracing {
    local service
    for service in $OS_TRACING_SERVICES; do
        _os_tracing_cmd disable "$service"
    done
}

if is_service_enabled os-tracing; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        install_os_tracing
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        configure_os_tracing
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        start_os_tracing
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_os_tracing
    fi
    if [[ "$1" == "clean" ]]; then
        clean_os_tracing
    fi
fi
