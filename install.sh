#!/usr/bin/env bash
# Backroom installer: a development checkout (--dev) or the production hub on a Raspberry Pi.
# Every step checks before it acts, so running it again changes nothing. See --help.
set -euo pipefail
umask 022 # the venv must stay readable by the backroom user even when root's umask is 077

CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly CHECKOUT
readonly UNITS=(backroom-hub.service backroom-devices.service)
# Reload mosquitto when the hub gives a device its own MQTT user (docs/network.md).
readonly RELOAD_UNITS=(backroom-mqtt-reload.path backroom-mqtt-reload.service)
readonly SERVICE_USER=backroom
readonly SERVICE_GROUPS=(input dialout lp)
# What the project and its tests need from the OS. evdev compiles against python3-dev and
# linux-libc-dev; receipts are drawn with DejaVu. Chromium runs the page tests and shellcheck
# checks this script (--dev only).
readonly OS_PACKAGES=(mosquitto mosquitto-clients python3-venv python3-dev gcc linux-libc-dev fonts-dejavu-core)
readonly DEV_OS_PACKAGES=(chromium nodejs shellcheck)  # nodejs: the register's pure JS (pricing, labels) is tested against the hub under node

usage() {
    cat <<'EOF'
Usage: ./install.sh [--dev | [--prefix DIR] [--no-systemctl] [--uninstall]]

  (no option)     Production install on a Raspberry Pi (Debian 12 / Raspberry Pi OS), as root:
                  OS packages, the system user "backroom" (groups input, dialout, lp), a venv in
                  /opt/backroom/venv, /etc/backroom/backroom.toml with generated secrets (made
                  once, never overwritten), /var/lib/backroom, /opt/backroom/printers, the units, the udev rules
                  and a mosquitto drop-in with a password file and an ACL (the broker listens on
                  port 1883 on every address, for ESP32 devices on the LAN; no client gets in
                  without a password). Then it enables and starts everything and prints the
                  status page URL.
  --dev           Development checkout: OS packages (with Chromium for the page tests) and
                  .venv in this checkout with `pip install -e '.[test]'`. Touches no systemd,
                  udev or mosquitto state; the system broker is left as it is.
  --prefix DIR    Install every production file under DIR (an absolute path) instead of /: the
                  units, configs and venv paths point into DIR. Implies --no-systemctl, does not
                  create the system user (the real /etc/passwd is left alone) and gives every
                  file to the user running the installer instead. For tests and inspection.
  --no-systemctl  Skip systemctl, udevadm and mosquitto restarts; print what would have run.
  --uninstall     Stop and disable the services; remove the units, udev rules, mosquitto
                  drop-in (with its password file and ACL), the printer profiles and the venv. Keeps the config
                  (/etc/backroom), the data (/var/lib/backroom) and the backroom user.
  -h, --help      Show this help.

Environment:
  BACKROOM_INSTALL_SKIP_PACKAGES=1  Skip apt-get and pip: venvs are still made (without pip).
  BACKROOM_INSTALL_VENV_FROM=DIR    Production only, for tests: link the venv to the existing
                                    venv DIR instead of building one.
  BACKROOM_INSTALL_PYTHON=PATH      Interpreter for the venv (default: /usr/bin/python3 in
                                    production, python3 from PATH with --dev).

Examples:
  sudo ./install.sh --dev
  sudo ./install.sh
  sudo ./install.sh --uninstall
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

MODE=production
PREFIX=""
USE_SYSTEMCTL=1
UNINSTALL=0
SKIP_PACKAGES=${BACKROOM_INSTALL_SKIP_PACKAGES:-0}
RUN_AS=() # empty: run as ourselves
VENV_FROM=${BACKROOM_INSTALL_VENV_FROM:-}
FIRST_INSTALL=0 # set when this run created the config

parse_args() {
    local prefix_given=0
    while [ $# -gt 0 ]; do
        case "$1" in
        --dev) MODE=dev ;;
        --prefix)
            [ $# -ge 2 ] || die "--prefix needs a directory, e.g. --prefix /tmp/backroom-root"
            PREFIX=$2 prefix_given=1
            shift
            ;;
        --prefix=*) PREFIX=${1#--prefix=} prefix_given=1 ;;
        --no-systemctl) USE_SYSTEMCTL=0 ;;
        --uninstall) UNINSTALL=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            printf 'install.sh: unknown option %s\n' "$1" >&2
            printf 'Run ./install.sh --help for the options.\n' >&2
            exit 2
            ;;
        esac
        shift
    done
    if [ "$MODE" = dev ] && { [ "$prefix_given" = 1 ] || [ "$UNINSTALL" = 1 ]; }; then
        die "--dev cannot be combined with --prefix or --uninstall (a dev install is just .venv; delete it to undo)"
    fi
    if [ "$prefix_given" = 1 ]; then
        case "$PREFIX" in
        /*) ;;
        *) die "--prefix must be an absolute path, got '$PREFIX'" ;;
        esac
        # The prefix lands in unit files and sed expressions: keep it to plain path characters.
        [[ "$PREFIX" =~ ^[A-Za-z0-9._/+-]+$ ]] ||
            die "--prefix '$PREFIX' may only hold letters, digits and . _ / + -"
        PREFIX=$(realpath -m "$PREFIX")
        [ "$PREFIX" = / ] && PREFIX=""
    fi
    if [ -n "$PREFIX" ] && [ "$USE_SYSTEMCTL" = 1 ]; then
        note "--prefix implies --no-systemctl: systemd, udev and mosquitto only read the real /etc"
        USE_SYSTEMCTL=0
    fi
}

is_root() { [ "$(id -u)" = 0 ]; }

# --- small file helpers: act only on a difference, so a second run changes nothing ----------

# ensure_mode PATH MODE USER:GROUP (MODE as stat prints it, e.g. 600)
ensure_mode() {
    local path=$1 mode=$2 owner=$3 current
    current=$(stat -c '%a %U:%G' "$path")
    if [ "$current" != "$mode $owner" ]; then
        chown "$owner" "$path"
        chmod "$mode" "$path"
        note "set $path to $mode $owner (was $current)"
    fi
}

# ensure_dir PATH MODE USER:GROUP
ensure_dir() {
    if [ ! -d "$1" ]; then
        install -d -m "$2" -o "${3%%:*}" -g "${3#*:}" "$1"
        note "created $1"
    fi
    ensure_mode "$@"
}

# put_file SRC DEST MODE USER:GROUP — install SRC as DEST unless identical; CHANGED=1 if written.
put_file() {
    local src=$1 dest=$2 mode=$3 owner=$4
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        ensure_mode "$dest" "$mode" "$owner"
        return 0
    fi
    mkdir -p "$(dirname "$dest")"
    install -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" "$src" "$dest"
    note "wrote $dest"
    CHANGED=1
}

# remove_file PATH — CHANGED=1 if something was removed.
remove_file() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        rm -f "$1"
        note "removed $1"
        CHANGED=1
    fi
}

# render TEMPLATE — print it with the production paths moved under PREFIX.
render() {
    local drop_state=()
    # systemd's StateDirectory= always means the real /var/lib; under a prefix we make the dir.
    [ -n "$PREFIX" ] && drop_state=(-e '/^StateDirectory/d')
    sed -e "s#/opt/backroom#${PREFIX}/opt/backroom#g" \
        -e "s#/etc/backroom#${PREFIX}/etc/backroom#g" \
        -e "s#/var/lib/backroom#${PREFIX}/var/lib/backroom#g" \
        -e "s#/etc/mosquitto/#${PREFIX}/etc/mosquitto/#g" \
        "${drop_state[@]}" "$1"
}

# --- OS packages and Python ------------------------------------------------------------------

ensure_packages() {
    local wanted=("${OS_PACKAGES[@]}") missing=() pkg
    [ "$MODE" = dev ] && wanted+=("${DEV_OS_PACKAGES[@]}")
    if [ "$SKIP_PACKAGES" = 1 ]; then
        say "OS packages: skipped (BACKROOM_INSTALL_SKIP_PACKAGES=1); needed: ${wanted[*]}"
        return 0
    fi
    if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
        die "apt-get not found: this installer targets Debian 12 and Raspberry Pi OS. Install ${wanted[*]} by hand, then rerun with BACKROOM_INSTALL_SKIP_PACKAGES=1"
    fi
    for pkg in "${wanted[@]}"; do
        # shellcheck disable=SC2016 # ${Status} is dpkg-query's field, not a shell variable
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "OS packages: all present (${wanted[*]})"
        return 0
    fi
    is_root || die "installing ${missing[*]} needs root: run install.sh with sudo"
    say "OS packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
}

pick_python() {
    if [ -n "${BACKROOM_INSTALL_PYTHON:-}" ]; then
        PYTHON=$BACKROOM_INSTALL_PYTHON
    elif [ "$MODE" = production ] && [ -x /usr/bin/python3 ]; then
        # The service user must be able to run it: not a pyenv build under /root.
        PYTHON=/usr/bin/python3
    else
        PYTHON=$(command -v python3) || die "python3 not found; install python3 (3.11 or newer)"
    fi
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
        die "Backroom needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1 || echo missing)"
}

venv_works() { [ -x "$1/bin/python" ] && "$1/bin/python" -c 'import sys' >/dev/null 2>&1; }

# make_venv DIR — reuse DIR when it runs; with SKIP_PACKAGES make it without pip (fast).
make_venv() {
    local venv=$1
    if venv_works "$venv"; then
        note "venv: reusing $venv"
    else
        if [ -e "$venv" ]; then
            warn "$venv does not run (was its Python removed?); recreating it"
            rm -rf "$venv"
        fi
        if [ "$SKIP_PACKAGES" = 1 ]; then
            "${RUN_AS[@]}" "$PYTHON" -m venv --without-pip "$venv"
        else
            "${RUN_AS[@]}" "$PYTHON" -m venv "$venv"
        fi
        note "venv: created $venv with $PYTHON"
    fi
    if [ "$SKIP_PACKAGES" != 1 ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        "${RUN_AS[@]}" "$PYTHON" -m venv "$venv" # adds pip to a venv an earlier skipped run made without it
    fi
}

# Hash of what `pip install <checkout>` packages; a production reinstall runs only when it moves.
source_hash() {
    "$PYTHON" - "$CHECKOUT" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
h = hashlib.sha256()
for top in ("pyproject.toml", "README.md", "hub", "devices", "web"):
    path = os.path.join(root, top)
    files = [path] if os.path.isfile(path) else []
    for d, dirs, names in os.walk(path):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        files += [os.path.join(d, n) for n in sorted(names) if not n.endswith(".pyc")]
    for f in files:
        h.update(os.path.relpath(f, root).encode() + b"\0")
        with open(f, "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
print(h.hexdigest())
PY
}

# --- dev -------------------------------------------------------------------------------------

# `sudo ./install.sh --dev` must not leave a root-owned .venv in a user's checkout: the venv
# and pip steps run as the checkout's owner.
set_run_as() {
    local owner
    RUN_AS=()
    owner=$(stat -c %U "$CHECKOUT")
    if is_root && [ "$owner" != root ] && [ "$owner" != UNKNOWN ]; then
        RUN_AS=(runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)")
        note "running the venv and pip steps as $owner, the owner of $CHECKOUT"
    fi
    return 0
}

install_dev() {
    local venv=$CHECKOUT/.venv stamp=$CHECKOUT/.venv/.backroom-pyproject.sha256 want
    [ -f "$CHECKOUT/pyproject.toml" ] || die "no pyproject.toml next to install.sh in $CHECKOUT"
    ensure_packages
    pick_python
    say "Python environment: $venv"
    set_run_as
    make_venv "$venv"
    if [ "$SKIP_PACKAGES" = 1 ]; then
        note "pip install -e '.[test]': skipped (BACKROOM_INSTALL_SKIP_PACKAGES=1)"
    else
        want=$(sha256sum "$CHECKOUT/pyproject.toml" | cut -d' ' -f1)
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/backroom" ]; then
            note "pip install -e '.[test]': up to date with pyproject.toml"
        else
            say "pip install -e '.[test]' (no 'playwright install': the page tests use /usr/bin/chromium)"
            (cd "$CHECKOUT" && "${RUN_AS[@]}" "$venv/bin/python" -m pip install --no-input --progress-bar off -e '.[test]')
            printf '%s\n' "$want" >"$stamp"
            chown --reference="$venv" "$stamp"
        fi
    fi
    say "Development checkout ready. Next:"
    note "cd $CHECKOUT && .venv/bin/python -m pytest -q"
    note ".venv/bin/backroom demo"
}

# --- production ------------------------------------------------------------------------------

set_paths() {
    CONF_DIR=$PREFIX/etc/backroom
    CONFIG=$CONF_DIR/backroom.toml
    DATA_DIR=$PREFIX/var/lib/backroom
    OPT_DIR=$PREFIX/opt/backroom
    VENV=$OPT_DIR/venv
    PROFILES_DIR=$OPT_DIR/printers
    UNIT_DIR=$PREFIX/etc/systemd/system
    RULES=$PREFIX/etc/udev/rules.d/99-backroom.rules
    MOSQ_DIR=$PREFIX/etc/mosquitto
    DROPIN=$MOSQ_DIR/conf.d/backroom.conf
    PASSWD=$MOSQ_DIR/backroom.passwd
    ACL=$MOSQ_DIR/backroom.acl
    if [ -n "$PREFIX" ]; then
        ROOT_OWNER="$(id -un):$(id -gn)"
        SERVICE_OWNER=$ROOT_OWNER CONF_DIR_OWNER=$ROOT_OWNER MOSQ_OWNER=$ROOT_OWNER PASSWD_OWNER=$ROOT_OWNER
    else
        ROOT_OWNER=root:root
        SERVICE_OWNER=$SERVICE_USER:$SERVICE_USER
        CONF_DIR_OWNER=root:$SERVICE_USER
        MOSQ_OWNER=mosquitto:mosquitto # mosquitto 2 reads these after dropping root
        # the hub adds and removes per-device users in the password file (mode 660)
        PASSWD_OWNER=mosquitto:$SERVICE_USER
    fi
}

ensure_user() {
    local group
    if [ -n "$PREFIX" ]; then
        say "System user: not created under --prefix (the real /etc/passwd is left alone); files belong to $ROOT_OWNER"
        return 0
    fi
    for group in "${SERVICE_GROUPS[@]}"; do
        getent group "$group" >/dev/null || { groupadd --system "$group" && note "created group $group"; }
    done
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/backroom --no-create-home \
            --shell /usr/sbin/nologin --comment "Backroom store hub" "$SERVICE_USER"
        note "created system user $SERVICE_USER"
    fi
    for group in "${SERVICE_GROUPS[@]}"; do
        if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx "$group"; then
            usermod -aG "$group" "$SERVICE_USER"
            note "added $SERVICE_USER to group $group"
        fi
    done
    say "System user: $SERVICE_USER (groups: $(id -nG "$SERVICE_USER"))"
}

install_venv() {
    local stamp want
    say "Python environment: $VENV"
    ensure_dir "$OPT_DIR" 755 "$ROOT_OWNER"
    if [ -n "$VENV_FROM" ]; then
        venv_works "$VENV_FROM" || die "BACKROOM_INSTALL_VENV_FROM=$VENV_FROM is not a working venv"
        if [ -L "$VENV" ] && [ "$(readlink "$VENV")" = "$VENV_FROM" ]; then
            note "venv: $VENV -> $VENV_FROM (BACKROOM_INSTALL_VENV_FROM)"
        else
            [ -e "$VENV" ] && die "$VENV exists; remove it to link it to $VENV_FROM"
            ln -s "$VENV_FROM" "$VENV"
            note "venv: linked $VENV -> $VENV_FROM (BACKROOM_INSTALL_VENV_FROM)"
            SERVICES_CHANGED=1
        fi
    else
        make_venv "$VENV"
        if [ "$SKIP_PACKAGES" = 1 ]; then
            note "pip install: skipped (BACKROOM_INSTALL_SKIP_PACKAGES=1)"
        else
            stamp=$VENV/.backroom-source.sha256
            want=$(source_hash)
            if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/backroom" ]; then
                note "pip install: up to date with $CHECKOUT"
            else
                pip_install_checkout
                printf '%s\n' "$want" >"$stamp"
                SERVICES_CHANGED=1
            fi
        fi
    fi
    [ -x "$VENV/bin/backroom" ] || warn "$VENV/bin/backroom is missing: the services cannot start until the project is installed"
}

# pip builds in the source tree (build/, *.egg-info); build from a copy so stale files there
# can never reach the installed package and the checkout stays clean.
pip_install_checkout() {
    local src=$WORK/src
    mkdir -p "$src"
    tar -C "$CHECKOUT" --exclude=./.git --exclude=./.venv --exclude=./build \
        --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$src" -xf -
    say "pip install $CHECKOUT (non-editable, into $VENV)"
    "$VENV/bin/python" -m pip install --no-input --progress-bar off --no-cache-dir "$src"
}

py_config() { # py_config KEY [DEFAULT] — a value from the config file
    "$PYTHON" - "$CONFIG" "$@" <<'PY'
import sys, tomllib
path, dotted, *default = sys.argv[1:]
with open(path, "rb") as fh:
    data = tomllib.load(fh)
section, key = dotted.split(".", 1)
value = data.get(section, {}).get(key, default[0] if default else "")
print(str(value).lower() if isinstance(value, bool) else value)
PY
}

new_secret() {
    "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' 2>/dev/null ||
        openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n'
}

write_config() {
    local tmp=$WORK/backroom.toml hub_id
    ensure_dir "$CONF_DIR" 750 "$CONF_DIR_OWNER"
    if [ -e "$CONFIG" ]; then
        say "Config: keeping $CONFIG (never overwritten)"
        ensure_mode "$CONFIG" 600 "$SERVICE_OWNER"
        return 0
    fi
    FIRST_INSTALL=1
    # A hub id must be unique across all shops of a back office: host name plus random hex.
    hub_id=$("$PYTHON" -c 'import re, secrets, socket
host = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().split(".")[0].lower()).strip("-")[:40]
print((host or "hub") + "-" + secrets.token_hex(3))')
    (
        umask 077
        cat >"$tmp" <<EOF
# Backroom configuration, made by install.sh with fresh secrets. install.sh never overwrites
# this file. Every key, its default and its BACKROOM_* environment variable are listed in
# docs/configuration.md. After an edit: sudo systemctl restart backroom-hub backroom-devices
# (and rerun install.sh when you change an MQTT password: it updates mosquitto's password file).

[hub]
id = "$hub_id"
data_dir = "$DATA_DIR"
http_port = 8080
secret_key = "$(new_secret)"

[mqtt]
host = "127.0.0.1"
port = 1883
username = "hub"
password = "$(new_secret)"
device_username = "devices"
device_password = "$(new_secret)"

[cloud]
# The back office endpoint; empty keeps every event in the outbox until it is set.
url = ""
secret = "$(new_secret)"

[store]
name = "My Shop"
currency = "EUR"
EOF
    )
    put_file "$tmp" "$CONFIG" 600 "$SERVICE_OWNER"
    say "Config: created $CONFIG (hub id $hub_id); edit [store] and [cloud] for this shop"
    SERVICES_CHANGED=1
}

check_config() {
    # Run from / so the venv's installed package is checked, not this checkout's sources.
    if (cd / && "$VENV/bin/python" -c 'import hub.config' >/dev/null 2>&1); then
        (cd / && "$VENV/bin/python" - "$CONFIG") <<'PY' || die "fix $CONFIG, then rerun install.sh"
import sys
from hub.config import load
from hub.errors import ConfigError
try:
    load(sys.argv[1], env={})
except ConfigError as exc:
    sys.exit(f"install.sh: error: {exc}")
PY
        note "config: $CONFIG passes hub.config.load"
    else
        warn "could not check $CONFIG: package 'hub' does not import from $VENV"
    fi
}

ensure_data_dir() {
    say "Data: $DATA_DIR"
    ensure_dir "$DATA_DIR" 750 "$SERVICE_OWNER"
}

# passwd_has FILE USER PASSWORD — whether FILE holds USER with a hash of PASSWORD.
passwd_has() {
    BACKROOM_PW=$3 "$PYTHON" - "$1" "$2" <<'PY'
import base64, hashlib, hmac, os, sys
path, user = sys.argv[1:3]
pw = os.environ["BACKROOM_PW"].encode()
for line in open(path, encoding="utf-8"):
    name, _, stored = line.strip().partition(":")
    if name != user:
        continue
    parts = stored.split("$")  # mosquitto 2: $7$iterations$salt$hash (PBKDF2-SHA512); 1.x: $6$salt$hash
    if len(parts) == 5 and parts[1] == "7":
        digest = hashlib.pbkdf2_hmac("sha512", pw, base64.b64decode(parts[3]), int(parts[2]))
    elif len(parts) == 4 and parts[1] == "6":
        digest = hashlib.sha512(pw + base64.b64decode(parts[2])).digest()
    else:
        sys.exit(1)
    sys.exit(0 if hmac.compare_digest(base64.b64encode(digest).decode(), parts[-1]) else 1)
sys.exit(1)
PY
}

install_mosquitto_files() {
    local hub_user hub_pw dev_user dev_pw user pw tmp=$WORK/acl tls_port tls_cert tls_key
    hub_user=$(py_config mqtt.username hub)
    hub_pw=$(py_config mqtt.password)
    dev_user=$(py_config mqtt.device_username devices)
    dev_pw=$(py_config mqtt.device_password)
    if [ -z "$hub_pw" ] || [ -z "$dev_pw" ]; then
        die "mqtt.password and mqtt.device_password must be set in $CONFIG (mosquitto refuses anonymous clients)"
    fi
    for user in "$hub_user" "$dev_user"; do
        [[ "$user" =~ ^[A-Za-z0-9._-]+$ ]] || die "MQTT user name '$user' in $CONFIG may only hold letters, digits and . _ -"
    done
    command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found: install the mosquitto package"

    say "Mosquitto: $DROPIN"
    ensure_dir "$MOSQ_DIR" 755 "$ROOT_OWNER"
    render "$CHECKOUT/systemd/mosquitto-backroom.conf" >"$WORK/dropin"
    tls_port=$(py_config mqtt.tls_port 0)
    if [ "$tls_port" != 0 ]; then # the #tls lines of the drop-in turn on (docs/network.md)
        tls_cert=$(py_config mqtt.tls_certfile) tls_key=$(py_config mqtt.tls_keyfile)
        if [ -z "$tls_cert" ] || [ -z "$tls_key" ]; then
            die "mqtt.tls_port is $tls_port in $CONFIG but mqtt.tls_certfile or mqtt.tls_keyfile is empty: set both"
        fi
        sed -i -e 's/^#tls //' -e "s#@TLS_PORT@#$tls_port#" -e "s#@TLS_CERTFILE@#$tls_cert#" \
            -e "s#@TLS_KEYFILE@#$tls_key#" "$WORK/dropin"
    fi
    put_file "$WORK/dropin" "$DROPIN" 644 "$ROOT_OWNER"
    render "$CHECKOUT/systemd/mosquitto-backroom.acl" |
        sed -e "s/@HUB_USER@/$hub_user/g" -e "s/@DEVICES_USER@/$dev_user/g" >"$tmp"
    put_file "$tmp" "$ACL" 600 "$MOSQ_OWNER"

    # mosquitto_passwd salts every hash afresh: touch a user only when its password moved.
    # Other users in the file (single-device clients such as ESP32 scales) are kept.
    if [ ! -e "$PASSWD" ]; then
        install -m 660 /dev/null "$PASSWD"
        note "created $PASSWD"
    fi
    for user in "$hub_user:$hub_pw" "$dev_user:$dev_pw"; do
        pw=${user#*:} user=${user%%:*}
        if ! passwd_has "$PASSWD" "$user" "$pw"; then
            mosquitto_passwd -b "$PASSWD" "$user" "$pw"
            note "set the password of MQTT user $user in $PASSWD"
            CHANGED=1
        fi
    done
    ensure_mode "$PASSWD" 660 "$PASSWD_OWNER"
}

install_units() {
    local unit
    say "systemd units: $UNIT_DIR"
    for unit in "${UNITS[@]}" "${RELOAD_UNITS[@]}"; do
        render "$CHECKOUT/systemd/$unit" >"$WORK/$unit"
        put_file "$WORK/$unit" "$UNIT_DIR/$unit" 644 "$ROOT_OWNER"
    done
}

# Printer profiles (firmware_configs/printers) beside the venv, where devices/printer/profiles.py
# looks for them; a profile no longer in the checkout is removed.
install_printer_profiles() {
    local src dest
    say "Printer profiles: $PROFILES_DIR"
    ensure_dir "$PROFILES_DIR" 755 "$ROOT_OWNER"
    for src in "$CHECKOUT"/firmware_configs/printers/*.yaml; do
        put_file "$src" "$PROFILES_DIR/$(basename "$src")" 644 "$ROOT_OWNER"
    done
    for dest in "$PROFILES_DIR"/*.yaml; do
        [ -e "$dest" ] || continue
        [ -f "$CHECKOUT/firmware_configs/printers/$(basename "$dest")" ] || remove_file "$dest"
    done
}

install_udev_rules() {
    say "udev rules: $RULES"
    put_file "$CHECKOUT/systemd/99-backroom.rules" "$RULES" 644 "$ROOT_OWNER"
}

# run_or_tell CMD... — run it, or with --no-systemctl say that it was skipped.
run_or_tell() {
    if [ "$USE_SYSTEMCTL" = 1 ]; then
        note "$*"
        "$@"
    else
        note "skipped (--no-systemctl): $*"
    fi
}

check_systemd() {
    [ "$USE_SYSTEMCTL" = 0 ] || [ -d /run/systemd/system ] ||
        die "systemd is not running on this machine; rerun with --no-systemctl (and start the services yourself)"
}

apply_changes() {
    say "Services"
    [ "$UNITS_CHANGED" = 1 ] && run_or_tell systemctl daemon-reload
    run_or_tell systemctl enable --now mosquitto.service
    run_or_tell systemctl enable --now backroom-mqtt-reload.path
    [ "$MOSQ_CHANGED" = 1 ] && run_or_tell systemctl restart mosquitto.service
    run_or_tell systemctl enable "${UNITS[@]}"
    if [ "$SERVICES_CHANGED" = 1 ] || [ "$UNITS_CHANGED" = 1 ]; then
        run_or_tell systemctl restart "${UNITS[@]}"
    else
        run_or_tell systemctl start "${UNITS[@]}"
    fi
    if [ "$RULES_CHANGED" = 1 ]; then
        run_or_tell udevadm control --reload
        run_or_tell udevadm trigger --action=change --subsystem-match=input \
            --subsystem-match=tty --subsystem-match=usb --subsystem-match=usbmisc
    fi
    return 0
}

status_url() {
    local addr port
    port=$(py_config hub.http_port 8080)
    # First IPv4 address of this host; an IPv6 one needs brackets; no address: the host name.
    addr=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -v ':' || true)
    if [ -z "$addr" ]; then
        addr=$(hostname -I 2>/dev/null | awk '{print $1}')
        if [ -n "$addr" ]; then addr="[$addr]"; else addr=$(hostname); fi
    fi
    printf 'http://%s:%s/status\n' "$addr" "$port"
}

install_production() {
    local need
    for need in "${UNITS[@]}" "${RELOAD_UNITS[@]}" 99-backroom.rules mosquitto-backroom.conf mosquitto-backroom.acl; do
        [ -f "$CHECKOUT/systemd/$need" ] || die "missing $CHECKOUT/systemd/$need: is this a complete checkout?"
    done
    compgen -G "$CHECKOUT/firmware_configs/printers/*.yaml" >/dev/null ||
        die "missing $CHECKOUT/firmware_configs/printers/*.yaml: is this a complete checkout?"
    if [ -z "$PREFIX" ]; then
        is_root || die "a production install needs root: run sudo ./install.sh (or use --prefix DIR to try it out)"
    fi
    check_systemd
    [ -n "$PREFIX" ] && say "Installing under prefix $PREFIX"
    SERVICES_CHANGED=0
    ensure_packages
    pick_python
    if [ -z "$PREFIX" ] && ! id mosquitto >/dev/null 2>&1; then
        die "user mosquitto is missing: install the mosquitto package"
    fi
    ensure_user
    install_venv
    ensure_data_dir
    write_config
    check_config
    CHANGED=0
    install_mosquitto_files
    MOSQ_CHANGED=$CHANGED
    CHANGED=0
    install_units
    UNITS_CHANGED=$CHANGED
    CHANGED=0
    install_printer_profiles
    [ "$CHANGED" = 1 ] && SERVICES_CHANGED=1
    CHANGED=0
    install_udev_rules
    RULES_CHANGED=$CHANGED
    apply_changes
    say "Backroom is installed. Status page: $(status_url)"
    if [ "$FIRST_INSTALL" = 1 ]; then
        note "next, give the owner a sign-in (it asks for a password):"
        note "  sudo -u $SERVICE_USER $VENV/bin/backroom user set owner --role owner"
    fi
    note "logs: journalctl -u backroom-hub -u backroom-devices -f"
}

uninstall() {
    local unit
    if [ -z "$PREFIX" ]; then
        is_root || die "--uninstall needs root: run sudo ./install.sh --uninstall"
    fi
    check_systemd
    say "Uninstalling Backroom${PREFIX:+ from prefix $PREFIX}"
    for unit in "${UNITS[@]}" backroom-mqtt-reload.path; do
        [ -e "$UNIT_DIR/$unit" ] && run_or_tell systemctl disable --now "$unit"
    done
    CHANGED=0
    for unit in "${UNITS[@]}" "${RELOAD_UNITS[@]}"; do remove_file "$UNIT_DIR/$unit"; done
    [ "$CHANGED" = 1 ] && run_or_tell systemctl daemon-reload
    CHANGED=0
    remove_file "$RULES"
    [ "$CHANGED" = 1 ] && run_or_tell udevadm control --reload
    CHANGED=0
    remove_file "$DROPIN"
    remove_file "$PASSWD"
    remove_file "$ACL"
    [ "$CHANGED" = 1 ] && run_or_tell systemctl restart mosquitto.service
    if [ -e "$VENV" ] || [ -L "$VENV" ]; then
        rm -rf "$VENV" # a symlink from BACKROOM_INSTALL_VENV_FROM goes, never its target
        note "removed $VENV"
    fi
    if [ -d "$PROFILES_DIR" ]; then
        rm -rf "$PROFILES_DIR"
        note "removed $PROFILES_DIR"
    fi
    [ -d "$OPT_DIR" ] && rmdir --ignore-fail-on-non-empty "$OPT_DIR"
    say "Kept $CONF_DIR (config and secrets) and $DATA_DIR (database): delete them by hand only if you are sure"
    [ -z "$PREFIX" ] && note "kept the system user $SERVICE_USER (userdel $SERVICE_USER removes it)"
    return 0
}

main() {
    parse_args "$@"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    if [ "$MODE" = dev ]; then
        install_dev
        return 0
    fi
    set_paths
    if [ "$UNINSTALL" = 1 ]; then
        uninstall
    else
        install_production
    fi
}

main "$@"
