#!/usr/bin/env bash
# Install smartcron from this checkout: a venv in /opt/smartcron, the `smartcron` command,
# /etc/smartcron/smartcron.toml and the database. Safe to run again (it upgrades in place and
# keeps your config and data).
#
# Usage: sudo ./install.sh
set -euo pipefail

PREFIX=/opt/smartcron
CONFIG_DIR=/etc/smartcron
DATA_DIR=/var/lib/smartcron
SRC="$(cd "$(dirname "$0")" && pwd)"

say() { printf '== %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo ./install.sh): it installs system packages and writes /etc and /opt."
[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] \
    || echo "install.sh: warning: PID 1 is not systemd here; smartcron's timers need a systemd host." >&2

say "system packages"
if command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev gcc \
        pkg-config libsystemd-dev >/dev/null
else
    echo "install.sh: not a Debian-like host; make sure Python 3.11+, a C compiler, pkg-config and libsystemd headers are installed." >&2
fi
PYTHON="${PYTHON:-/usr/bin/python3}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is older than 3.11; install Python 3.11+ or set PYTHON=/path/to/python3.11."

say "smartcron into $PREFIX"
[ -x "$PREFIX/bin/python" ] || "$PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet --disable-pip-version-check --upgrade "$SRC" \
    || die "pip could not install smartcron from $SRC (see the messages above)."
ln -sf "$PREFIX/bin/smartcron" /usr/local/bin/smartcron

say "configuration and data"
install -d -m 0755 "$CONFIG_DIR"
install -d -m 0750 "$DATA_DIR"
if [ ! -e "$CONFIG_DIR/smartcron.toml" ]; then
    umask 027
    cat > "$CONFIG_DIR/smartcron.toml" <<TOML
# smartcron configuration; every setting is described in docs/configuration.md.
database_url = "sqlite:///$DATA_DIR/smartcron.db"
TOML
    echo "wrote $CONFIG_DIR/smartcron.toml"
else
    echo "kept existing $CONFIG_DIR/smartcron.toml"
fi

say "database"
/usr/local/bin/smartcron init

say "units"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    /usr/local/bin/smartcron sync
else
    echo "skipped: PID 1 is not systemd, so timers cannot be installed here."
fi

say "done"
echo "smartcron is installed. Add a task with: smartcron task add NAME --command CMD --schedule EXPR"
