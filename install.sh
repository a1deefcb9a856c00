#!/usr/bin/env bash
# Install (or upgrade) smartcron from this checkout, with everything that keeps it running:
#   - a venv in /opt/smartcron and the `smartcron` command in /usr/local/bin, with its bash
#     and zsh completion and its man page smartcron(1);
#   - the `smartcron` system user, /etc/smartcron/smartcron.toml (with a generated secret) and
#     /var/lib/smartcron (database, backups);
#   - smartcron-watchdog.service, smartcron-dashboard.service, smartcron-maintenance.timer, the
#     alert template and the polkit rule, enabled and started;
#   - the journal message catalog (journalctl -x explains smartcron's own entries);
#   - Prometheus alerting rules and a Grafana board in /usr/share/smartcron/contrib;
#   - the key that signs task definitions (root's alone: sync installs nothing else);
#   - HTTPS for the dashboard: a self-signed certificate, or the one you give;
#   - a first admin user for the dashboard, with a one-time password;
#   - and finally `smartcron doctor`.
# Running it again upgrades in place and keeps the config, the key, the certificate and the data.
#
# Usage: sudo ./install.sh [--dry-run] [--listen HOST:PORT] [--certificate FILE --key FILE]
#        sudo ./install.sh --uninstall [--purge] [--dry-run]
#   --dry-run      print what would be done, change nothing
#   --listen       the dashboard's address for a new config (default 127.0.0.1:8080)
#   --certificate  a PEM certificate (chain) for the dashboard, with --key its private key:
#                  installed in place of the self-signed one
#   --uninstall    stop and remove the units, the venv and the command; keep config and data
#   --purge        with --uninstall: also delete /etc/smartcron, /var/lib/smartcron and the user
set -euo pipefail

PREFIX=/opt/smartcron
CONFIG_DIR=/etc/smartcron
DATA_DIR=/var/lib/smartcron
UNIT_DIR=/etc/systemd/system
USER_NAME=smartcron
BIN=/usr/local/bin/smartcron
# smartcron/systemd/entries.py CATALOG_DIR and CATALOG_NAME (`units install` writes it there).
CATALOG=/usr/local/lib/systemd/catalog/smartcron.catalog
SRC="$(cd "$(dirname "$0")" && pwd)"
OWN_UNITS=(smartcron-watchdog.service smartcron-dashboard.service smartcron-maintenance.timer)
PACKAGES=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev polkitd openssl)
SIGNING_KEY="$CONFIG_DIR/signing.key"
TLS_CERT="$CONFIG_DIR/dashboard.crt"
TLS_KEY="$CONFIG_DIR/dashboard.key"
# Generated from the installed CLI, so they describe exactly the commands it has.
BASH_COMPLETION=/usr/share/bash-completion/completions/smartcron
ZSH_COMPLETION=/usr/share/zsh/vendor-completions/_smartcron
MAN_PAGE=/usr/share/man/man1/smartcron.1
# Copied from contrib/: Prometheus rules and the Grafana board (docs/dashboard.md, "Alerting rules and Grafana board").
SHARE_DIR=/usr/share/smartcron
CONTRIB_FILES=(prometheus/smartcron.rules.yml grafana/smartcron.json)

DRY=0 UNINSTALL=0 PURGE=0 LISTEN=127.0.0.1:8080 CERT_IN="" KEY_IN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        --listen) LISTEN="${2:?--listen needs HOST:PORT}"; shift ;;
        --certificate) CERT_IN="${2:?--certificate needs a PEM file}"; shift ;;
        --key) KEY_IN="${2:?--key needs a PEM file}"; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
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
# generated FILE COMMAND...: write FILE (0644) from what COMMAND prints, whole or not at all.
generated() {
    local file="$1"; shift
    if [ "$DRY" = 1 ]; then printf '   would write %s from: %s\n' "$file" "$*"; return; fi
    install -d -m 0755 "$(dirname "$file")"
    "$@" > "$file.new" || { rm -f "$file.new"; die "could not generate $file (see above)."; }
    chmod 0644 "$file.new" && mv -f "$file.new" "$file"
    echo "wrote $file"
}

if [ -n "$CERT_IN$KEY_IN" ] && { [ -z "$CERT_IN" ] || [ -z "$KEY_IN" ]; }; then
    die "--certificate and --key go together: the certificate and its private key."
fi
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
    else
        # A half-removed install: take only the files smartcron generated (their first line).
        for f in "$UNIT_DIR"/smartcron-*; do
            if [ -f "$f" ] && head -1 "$f" | grep -q '^# Generated by smartcron'; then
                run rm -f "$f"
            fi
        done
        run rm -rf "$UNIT_DIR/smartcron-tasks.target.wants" \
            "$UNIT_DIR/timers.target.wants/smartcron-tasks.target" \
            /etc/polkit-1/rules.d/50-smartcron.rules "$CATALOG"
    fi
    run systemctl daemon-reload
    # The catalog file is gone: rebuild journald's catalog database without it.
    run journalctl --update-catalog
    say "removing $PREFIX, $BIN, its shell completions, man page and $SHARE_DIR"
    run rm -rf "$PREFIX" "$SHARE_DIR"
    run rm -f "$BIN" "$BASH_COMPLETION" "$ZSH_COMPLETION" "$MAN_PAGE"
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

say "shell completion and man page"
# click's own completion scripts (bash, zsh) and smartcron(1) from the commands' help.
generated "$BASH_COMPLETION" env _SMARTCRON_COMPLETE=bash_source "$PREFIX/bin/smartcron"
generated "$ZSH_COMPLETION" env _SMARTCRON_COMPLETE=zsh_source "$PREFIX/bin/smartcron"
generated "$MAN_PAGE" "$PREFIX/bin/python" -m smartcron.cli.manpage

say "Prometheus rules and Grafana board in $SHARE_DIR/contrib"
for f in "${CONTRIB_FILES[@]}"; do
    run install -D -m 0644 "$SRC/contrib/$f" "$SHARE_DIR/contrib/$f"
done

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
# HTTPS: install.sh made a self-signed certificate; put a real one here (docs/install.md).
tls_certificate = "$TLS_CERT"
tls_key = "$TLS_KEY"
# A task that names no user runs as this unprivileged account; root is written --user root.
default_user = "nobody"
# Signs dashboard sessions: keep this file readable by root and the smartcron group only.
secret_key = "$secret"
TOML
)
    chown root:"$USER_NAME" "$CONFIG_DIR/smartcron.toml"
    echo "wrote $CONFIG_DIR/smartcron.toml"
fi

say "task signing key"
# Root's alone (0600): `smartcron sync` installs only task definitions signed with it, so the
# smartcron account, which can write the database, cannot make root run anything.
if [ -e "$SIGNING_KEY" ]; then
    echo "kept existing $SIGNING_KEY"
    NEW_KEY=0
else
    echo "creating $SIGNING_KEY"
    NEW_KEY=1
fi

say "dashboard certificate (HTTPS)"
if [ -n "$CERT_IN" ]; then
    run install -m 0644 -o root -g root "$CERT_IN" "$TLS_CERT"
    run install -m 0640 -o root -g "$USER_NAME" "$KEY_IN" "$TLS_KEY"
elif [ -e "$TLS_CERT" ]; then
    echo "kept existing $TLS_CERT"
else
    host="$(hostname -f 2>/dev/null || hostname)"
    names="DNS:$host,DNS:localhost,IP:127.0.0.1,IP:::1"
    listen_host="${LISTEN%:*}"
    listen_host="${listen_host#[}"; listen_host="${listen_host%]}"
    case "$listen_host" in
        0.0.0.0|::|127.0.0.1|::1|localhost|"$host") ;;
        *[!0-9.:a-fA-F]*) names="$names,DNS:$listen_host" ;;
        *) names="$names,IP:$listen_host" ;;
    esac
    echo "self-signed for $names (replace it with a real one: docs/install.md, \"HTTPS\")"
    run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 825 -subj "/CN=$host" -addext "subjectAltName=$names" \
        -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null \
        || die "openssl could not create the dashboard's certificate."
    run chown root:"$USER_NAME" "$TLS_KEY"
    run chmod 0640 "$TLS_KEY"
    run chmod 0644 "$TLS_CERT"
fi

say "database"
# As the smartcron user, so that a SQLite database belongs to the services that write it.
as_user "$BIN" init
if [ "$NEW_KEY" = 1 ]; then
    # Creates the key. Tasks of an older smartcron were stored unsigned: sign them as they are,
    # once; from now on a row changed behind smartcron's back is refused by sync.
    run "$BIN" task sign --unsigned --yes
fi

say "units"
run "$BIN" units install
run systemctl daemon-reload
# The journald drop-in (50-smartcron.conf) takes effect when journald starts again.
run systemctl restart systemd-journald
# The message catalog (what `journalctl -x` says about smartcron's entries) is read from a
# database that journalctl builds from the catalog files.
run journalctl --update-catalog
run "$BIN" sync
run systemctl enable "${OWN_UNITS[@]}"
# Start what is stopped; restart what runs, so that an upgrade takes effect.
run systemctl restart "${OWN_UNITS[@]}"

say "dashboard admin"
if [ "$DRY" = 1 ]; then
    echo "   would create user 'admin' if the database has no dashboard users"
elif [ -z "$(runuser -u "$USER_NAME" -- "$BIN" user list | tail -n +2)" ]; then
    password="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(12))')"
    printf '%s\n' "$password" | runuser -u "$USER_NAME" -- "$BIN" user add admin --role admin \
        --password-stdin --must-change-password
    echo "Dashboard login: admin / $password"
    echo "This one-time password is shown once; the dashboard asks for a new one at the first login."
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
listen="$(sed -n 's/^dashboard_listen = "\(.*\)"/\1/p' "$CONFIG_DIR/smartcron.toml" | head -1)"
cert="$(sed -n 's/^tls_certificate = "\(.*\)"/\1/p' "$CONFIG_DIR/smartcron.toml" | head -1)"
if ! grep -q '^tls_certificate' "$CONFIG_DIR/smartcron.toml"; then cert="$TLS_CERT"; fi
if [ -n "$cert" ] && [ -e "$cert" ]; then
    echo "Dashboard: https://${listen:-127.0.0.1:8080}/"
    echo "Certificate SHA-256 fingerprint: $(openssl x509 -noout -fingerprint -sha256 -in "$cert" | cut -d= -f2)"
    echo "Compare it with what the browser shows before you accept a self-signed certificate."
else
    echo "Dashboard: http://${listen:-127.0.0.1:8080}/ (plain HTTP, this host only)"
fi
echo "Add a task: smartcron task add NAME --command CMD --schedule EXPR && smartcron sync"
