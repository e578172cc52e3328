#!/bin/bash
# Runs the os-tracing plugin inside devstack's real shell code (a checkout given by the
# test, never a copy in this repository), the way stack.sh, unstack.sh and clean.sh do.
#
#   harness.sh stack|unstack|clean
#
# Environment: DS (devstack tree; the test writes its localrc), ROOT (temporary root:
# etc/, opt/stack, systemd/), REPO (this repository), VENV (a Python prefix with
# os-tracing and uwsgi installed: devstack's GLOBAL_VENV).
#
# Stand-ins, only for what cannot run here: sudo runs file commands (install, tee, sed,
# ...) when every path they name is inside ROOT, and records everything else
# (systemctl, rabbitmqctl, a2ensite, writes to /etc or /var);
# setup_develop (pip) and wait_for_service (HTTP) are recorded; nova-manage is a script
# that prints one cell and records its arguments. Everything else is devstack's own.

CALLS=$ROOT/calls.log

TOP_DIR=$DS
# shellcheck disable=SC1091
source "$TOP_DIR/functions"
# shellcheck disable=SC1091
source "$TOP_DIR/lib/stack"
# shellcheck disable=SC1091
source "$TOP_DIR/stackrc"

function sudo {
    local arg
    echo "sudo $*" >> "$CALLS"
    case $1 in
        install|mkdir|tee|cp|rm|mv|ln|touch|chown|chmod|sed|grep|lsof) ;;
        *) return 0 ;;  # systemctl, rabbitmqctl, a2ensite, ...: recorded only
    esac
    for arg in "${@:2}"; do
        # A path (not a sed expression such as /^\[Unit\]/ a\...) outside ROOT.
        if [[ $arg =~ ^/[A-Za-z0-9._/@%+-]*$ && $arg != "$ROOT"/* && $arg != /dev/null ]]; then
            if [[ $1 == tee ]]; then
                cat > /dev/null
            fi
            return 0
        fi
    done
    command "$@"
}
# uuidgen (util-linux / uuid-runtime) may be absent here.
if ! command -v uuidgen > /dev/null; then
    mkdir -p "$ROOT/stubbin"
    printf '#!/bin/sh\nexec python3 -c "import uuid; print(uuid.uuid4())"\n' \
        > "$ROOT/stubbin/uuidgen"
    chmod +x "$ROOT/stubbin/uuidgen"
    export PATH=$ROOT/stubbin:$PATH
fi
function setup_develop { echo "setup_develop $*" >> "$CALLS"; }
function wait_for_service { echo "wait_for_service $*" >> "$CALLS"; }

for lib in database rpc_backend apache tls infra libraries lvm horizon keystone glance \
        nova placement cinder swift neutron; do
    # shellcheck disable=SC1090
    source "$TOP_DIR/lib/$lib"
done

# Every /etc path devstack chose, under ROOT instead.
for var in $(compgen -v); do
    if [[ $(declare -p "$var" 2> /dev/null) == "declare -"[-x]* && ${!var} == /etc/* ]]; then
        printf -v "$var" '%s' "$ROOT${!var}"
    fi
done
# shellcheck disable=SC2034  # read by devstack's write_user_unit_file
SYSTEMD_DIR=$ROOT/systemd
NOVA_BIN_DIR=$ROOT/bin
export PATH=$VENV/bin:$PATH

initialize_database_backends > /dev/null

function snapshot {
    rm -rf "$ROOT/snap-$1"
    cp -a "$ROOT/etc" "$ROOT/snap-$1"
}

function do_stack {
    set -o errexit  # as stack.sh; unstack.sh and clean.sh run without it
    mkdir -p "$ROOT/etc" "$NOVA_BIN_DIR" "$DEST/async" \
        "$(dirname "$(apache_site_config_for x)")"
    cat > "$NOVA_BIN_DIR/nova-manage" <<EOF
#!/bin/bash
echo "nova-manage \$*" >> "$CALLS"
if [[ " \$* " == *" list_cells "* ]]; then
    echo "+-------+--------------------------------------+"
    echo "|  Name |                 UUID                 |"
    echo "+-------+--------------------------------------+"
    echo "| cell0 | 00000000-0000-0000-0000-000000000000 |"
    echo "| cell1 | 5b5ba2f4-7a44-4a0e-9d1e-bd5cbd1b1ad3 |"
fi
EOF
    chmod +x "$NOVA_BIN_DIR/nova-manage"

    run_phase source
    # stack.sh: configure_* write the confs and uwsgi inis before "stack install".
    configure_keystone
    configure_placement
    sudo install -d -o "$STACK_USER" "$NOVA_CONF_DIR" "$GLANCE_CONF_DIR"
    cp "$REPO/tests/data/openstack/nova/api-paste.ini" "$NOVA_API_PASTE_INI"
    create_nova_conf
    cp "$REPO/tests/data/openstack/glance/glance-api-paste.ini" "$GLANCE_API_PASTE_INI"
    cp "$REPO/tests/data/openstack/glance/glance-api.conf" "$GLANCE_API_CONF"
    write_local_uwsgi_http_config "$GLANCE_UWSGI_CONF" "$GLANCE_UWSGI" "/image" "glance-api"
    snapshot install
    run_phase stack install
    start_keystone
    # init_nova: create_cell stores nova_cell1.conf's transport URL in the API DB.
    "$NOVA_BIN_DIR/nova-manage" --config-file "$NOVA_CONF" --config-file \
        "$(conductor_conf 1)" cell_v2 create_cell --name cell1
    snapshot post-config
    run_phase stack post-config
    start_nova_api
    start_placement
    start_nova_rest
    start_nova_conductor
    start_nova_compute
    snapshot extra
    run_phase stack extra
}

case $1 in
    stack) do_stack ;;
    unstack) load_plugin_settings; run_phase unstack ;;
    clean) load_plugin_settings; run_phase clean ;;
esac
echo "harness: $1 done"
