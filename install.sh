#!/usr/bin/env bash
# Install (or upgrade) smartcron from this checkout, with everything that keeps it running:
#   - a venv in /opt/smartcron and the `smartcron` command in /usr/local/bin;
#   - the `smartcron` system user, /etc/smartcron/smartcron.toml (with a generated secret) and
#     /var/lib/smartcron (database, backups);
#   - smartcron-watchdog.service, smartcron-dashboard.service, smartcron-maintenance.timer, the
#     alert template and the polkit rule, enabled and started;
#   - a first admin user for the dashboard, with a one-time password;
#   - and finally `smartcron doctor`.
# Running it again upgrades in place and keeps the config and the data.
#
# Usage: sudo ./install.sh [--dry-run] [--listen HOST:PORT]
#        sudo ./install.sh --uninstall [--purge] [--dry-run]
#   --dry-run    print what would be done, change nothing
#   --listen     the dashboard's address for a new config (default 127.0.0.1:8080)
#   --uninstall  stop and remove the units, the venv and the command; keep config and data
#   --purge      with --uninstall: also delete /etc/smartcron, /var/lib/smartcron and the user
set -euo pipefail

PREFIX=/opt/smartcron
CONFIG_DIR=/etc/smartcron
DATA_DIR=/var/lib/smartcron
UNIT_DIR=/etc/systemd/system
USER_NAME=smartcron
BIN=/usr/local/bin/smartcron
SRC="$(cd "$(dirname "$0")" && pwd)"
OWN_UNITS=(smartcron-watchdog.service smartcron-dashboard.service smartcron-maintenance.timer)
PACKAGES=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev polkitd)

DRY=0 UNINSTALL=0 PURGE=0 LISTEN=127.0.0.1:8080
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        --listen) LISTEN="${2:?--listen needs HOST:PORT}"; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '== %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
# Every change goes through `run`, so that --dry-run shows exactly what would happen.
run() {
    if [ "$DRY" = 1 ]; then printf '   would run: %s\n' "$*"; else "$@"; fi
}
as_user() { run runuser -u "$USER_NAME" -- "$@"; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo ./install.sh): it installs packages and writes /etc, /opt and /var/lib."
if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ]; then
    die "PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown), not systemd: smartcron runs jobs as systemd timers. In a container or CI, try it with scripts/sandbox, which boots a private systemd and runs this script inside it."
fi

if [ "$UNINSTALL" = 1 ]; then
    say "stopping smartcron's units"
    run systemctl disable --now "${OWN_UNITS[@]}" smartcron-tasks.target 2>/dev/null || true
    timers=$(systemctl list-units --all --plain --no-legend 'smartcron-*.timer' | awk '{print $1}')
    [ -z "$timers" ] || run systemctl stop $timers
    say "removing unit files and the polkit rule"
    if [ -x "$BIN" ]; then
        run "$BIN" units remove --tasks
    fi
    run systemctl daemon-reload
    say "removing $PREFIX and $BIN"
    run rm -rf "$PREFIX"
    run rm -f "$BIN"
    if [ "$PURGE" = 1 ]; then
        say "purging configuration, data and the $USER_NAME user"
        run rm -rf "$CONFIG_DIR" "$DATA_DIR"
        if getent passwd "$USER_NAME" >/dev/null; then run userdel "$USER_NAME"; fi
    else
        echo "kept $CONFIG_DIR and $DATA_DIR (your tasks, history and backups); --purge removes them."
    fi
    say "done"
    exit 0
fi

say "system packages"
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "all present: ${PACKAGES[*]}"
elif command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update -qq
    run apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    die "not a Debian-like host: install ${missing[*]} (Python 3.11+, a C compiler, pkg-config, libsystemd headers, polkit), then run this again."
fi
PYTHON="${PYTHON:-/usr/bin/python3}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is older than 3.11; install Python 3.11+ or set PYTHON=/path/to/python3.11."

say "the $USER_NAME user"
if getent passwd "$USER_NAME" >/dev/null; then
    echo "exists"
else
    run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "smartcron watchdog and dashboard" "$USER_NAME"
fi
# Reading task output from the journal needs the systemd-journal group.
if getent group systemd-journal >/dev/null; then run usermod -a -G systemd-journal "$USER_NAME"; fi

say "smartcron into $PREFIX"
[ -x "$PREFIX/bin/python" ] || run "$PYTHON" -m venv "$PREFIX"
run "$PREFIX/bin/pip" install --quiet --disable-pip-version-check --upgrade "$SRC" \
    || die "pip could not install smartcron from $SRC (see the messages above)."
run ln -sf "$PREFIX/bin/smartcron" "$BIN"

say "configuration and data"
run install -d -m 0750 -o root -g "$USER_NAME" "$CONFIG_DIR"
run install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$DATA_DIR" "$DATA_DIR/backups"
if [ -e "$CONFIG_DIR/smartcron.toml" ]; then
    echo "kept existing $CONFIG_DIR/smartcron.toml"
elif [ "$DRY" = 1 ]; then
    echo "   would write $CONFIG_DIR/smartcron.toml (database in $DATA_DIR, a new secret_key, dashboard on $LISTEN)"
else
    secret="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
    (umask 027; cat > "$CONFIG_DIR/smartcron.toml" <<TOML
# smartcron configuration; every setting is described in docs/configuration.md.
database_url = "sqlite:///$DATA_DIR/smartcron.db"
dashboard_listen = "$LISTEN"
# Signs dashboard sessions: keep this file readable by root and the smartcron group only.
secret_key = "$secret"
TOML
)
    chown root:"$USER_NAME" "$CONFIG_DIR/smartcron.toml"
    echo "wrote $CONFIG_DIR/smartcron.toml"
fi

say "database"
# As the smartcron user, so that a SQLite database belongs to the services that write it.
as_user "$BIN" init

say "units"
run "$BIN" units install
run systemctl daemon-reload
run "$BIN" sync
run systemctl enable "${OWN_UNITS[@]}"
# Start what is stopped; restart what runs, so that an upgrade takes effect.
run systemctl restart "${OWN_UNITS[@]}"

say "dashboard admin"
if [ "$DRY" = 1 ]; then
    echo "   would create user 'admin' if the database has no dashboard users"
elif [ -z "$(runuser -u "$USER_NAME" -- "$BIN" user list | tail -n +2)" ]; then
    password="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(12))')"
    printf '%s\n' "$password" | runuser -u "$USER_NAME" -- "$BIN" user add admin --role admin --password-stdin
    echo "Dashboard login: admin / $password"
    echo "This password is shown once. Change it with: smartcron user passwd admin"
else
    echo "dashboard users exist; none added"
fi

say "doctor"
if [ "$DRY" = 1 ]; then
    echo "   would run: $BIN doctor"
    exit 0
fi
# The watchdog stores its first health checks and the dashboard binds within seconds.
for _ in $(seq 30); do
    "$BIN" doctor >/dev/null 2>&1 && break
    sleep 2
done
"$BIN" doctor || die "smartcron is installed but doctor found problems (above); fix them and run 'smartcron doctor' again."
say "done: smartcron is installed and running"
echo "Dashboard: http://$(sed -n 's/^dashboard_listen = "\(.*\)"/\1/p' "$CONFIG_DIR/smartcron.toml" | head -1)/"
echo "Add a task: smartcron task add NAME --command CMD --schedule EXPR && smartcron sync"
