#!/usr/bin/env bash
# Installs MusicETL under a prefix, for a server without the Debian package: the same tree as the
# package (Jobs/layout.sh), with every path under the prefix unless told otherwise.
#
#   Jobs/install.sh --prefix DIR [--sysconfdir DIR] [--localstatedir DIR] [--inputdir DIR] [--no-build]
#
#   DIR/bin/etl-*                           the six jobs (static release build, .build-release/)
#   DIR/share/musicetl/schemas/             found there by the jobs in DIR/bin
#   SYSCONFDIR/musicetl/musicetl.toml, credentials (root:musicetl 0640)  default SYSCONFDIR: DIR/etc
#   SYSCONFDIR/cron.d/musicetl, SYSCONFDIR/logrotate.d/musicetl
#   DIR/lib/systemd/system/musicetl-nightly.{service,timer}, musicetl-failure@.service
#   LOCALSTATEDIR/lib/musicetl/ (work dir), LOCALSTATEDIR/log/musicetl/    default LOCALSTATEDIR: DIR/var
#   INPUTDIR/fma_metadata/, INPUTDIR/audio/ (the inputs)             default INPUTDIR: DIR/srv/musicetl
#
# Paths are limited to letters, digits and . _ - + / (they go unquoted into the cron line and the
# units). The cron, systemd and logrotate files name these paths; copy them to /etc/cron.d,
# /etc/systemd/system and /etc/logrotate.d to use them. They run as the user musicetl: run as root
# with that user present, this gives it the work dir, the log dir and read access to the
# credentials and inputs; otherwise it prints the commands that do.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=layout.sh
. "$root/Jobs/layout.sh"

prefix="" sysconfdir="" localstatedir="" inputdir="" build=1
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) prefix=$2; shift 2 ;;
        --sysconfdir) sysconfdir=$2; shift 2 ;;
        --localstatedir) localstatedir=$2; shift 2 ;;
        --inputdir) inputdir=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
if [ -z "$prefix" ]; then
    echo "install: --prefix DIR is required (see --help; or build the Debian package with Jobs/package.sh)" >&2
    exit 64
fi
# Refused before anything is created; checked again once made absolute.
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
for option in prefix sysconfdir localstatedir inputdir; do
    if [ -n "${!option}" ]; then
        musicetl_check_path "install: --$option" "$(absolute "${!option}")" || exit 64
    fi
done
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
export MUSICETL_VERSION
MUSICETL_VERSION=$(musicetl_version "$root")

built=$(musicetl_build_release "$root" "$build")
musicetl_check_static "$built"

musicetl_set_layout "$prefix" "$(absolute "${sysconfdir:-$prefix/etc}")" "$(absolute "${localstatedir:-$prefix/var}")" \
    "$prefix/lib/systemd/system" "$(absolute "${inputdir:-$prefix/srv/musicetl}")" || exit 64
# An edited configuration or credentials file is kept (the package's conffiles do the same).
for kept in "$CONFDIR/musicetl.toml" "$CONFDIR/credentials"; do
    if [ -e "$kept" ]; then cp -p "$kept" "$kept.keep"; fi
done
musicetl_install_tree "$root" "$built" ""
for kept in "$CONFDIR/musicetl.toml" "$CONFDIR/credentials"; do
    if [ -e "$kept.keep" ]; then mv "$kept.keep" "$kept"; echo "install: kept your $kept" >&2; fi
done
mkdir -p "$STATEDIR" "$LOGDIR" "$INPUTDIR/fma_metadata" "$INPUTDIR/audio"

# What the service user needs, as the package's postinst does it: its work and log dirs, the
# credentials to read (not to change), the inputs to read.
user=$musicetl_user
ownership=(
    "chown -R $user:$user $STATEDIR $LOGDIR"
    "chmod 0750 $STATEDIR $LOGDIR"
    "chown root:$user $CONFDIR/credentials"
    "chmod 0640 $CONFDIR/credentials"
    "chown root:$user $INPUTDIR $INPUTDIR/fma_metadata $INPUTDIR/audio"
    "chmod 0750 $INPUTDIR $INPUTDIR/fma_metadata $INPUTDIR/audio"
)
if [ "$(id -u)" -eq 0 ] && getent passwd "$user" >/dev/null; then
    for command in "${ownership[@]}"; do $command; done
else
    if [ "$(id -u)" -ne 0 ]; then reason="not run as root"; else reason="no user $user yet"; fi
    echo "install: $reason, so nothing was given to $user; as root, run:" >&2
    if ! getent passwd "$user" >/dev/null; then
        echo "    adduser --system --group --home $STATEDIR --no-create-home $user" >&2
    fi
    printf '    %s\n' "${ownership[@]}" >&2
fi
echo "install: MusicETL $MUSICETL_VERSION in $prefix; set the MongoDB URI in $CONFDIR/credentials," \
     "put the inputs in $INPUTDIR/fma_metadata and $INPUTDIR/audio (or set metadata and audio in" \
     "$CONFDIR/musicetl.toml)" >&2
