#!/usr/bin/env bash
# Installs MusicETL under a prefix, for a server without the Debian package: the same tree as the
# package (Jobs/layout.sh), with every path under the prefix unless told otherwise.
#
#   Jobs/install.sh --prefix DIR [--sysconfdir DIR] [--localstatedir DIR] [--no-build]
#
#   DIR/bin/etl-*                           the six jobs (static release build, .build-release/)
#   DIR/share/musicetl/schemas/             found there by the jobs in DIR/bin
#   SYSCONFDIR/musicetl/musicetl.toml, credentials (0600)           default SYSCONFDIR: DIR/etc
#   SYSCONFDIR/cron.d/musicetl, SYSCONFDIR/logrotate.d/musicetl
#   DIR/lib/systemd/system/musicetl-nightly.{service,timer}, musicetl-failure@.service
#   LOCALSTATEDIR/lib/musicetl/ (work dir), LOCALSTATEDIR/log/musicetl/    default LOCALSTATEDIR: DIR/var
#
# The cron, systemd and logrotate files name these paths; copy them to /etc/cron.d,
# /etc/systemd/system and /etc/logrotate.d to use them, and create the user they run as (musicetl).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=layout.sh
. "$root/Jobs/layout.sh"

prefix="" sysconfdir="" localstatedir="" build=1
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) prefix=$2; shift 2 ;;
        --sysconfdir) sysconfdir=$2; shift 2 ;;
        --localstatedir) localstatedir=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
if [ -z "$prefix" ]; then
    echo "install: --prefix DIR is required (see --help; or build the Debian package with Jobs/package.sh)" >&2
    exit 64
fi
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
export MUSICETL_VERSION
MUSICETL_VERSION=$(musicetl_version "$root")

if [ $build -eq 1 ]; then
    built=$(musicetl_build_release "$root")
else
    built=$(swift build -c release --static-swift-stdlib --scratch-path "$root/.build-release" \
        --package-path "$root" --show-bin-path)
fi
musicetl_check_static "$built"

musicetl_set_layout "$prefix" "${sysconfdir:-$prefix/etc}" "${localstatedir:-$prefix/var}" "$prefix/lib/systemd/system"
# An edited configuration or credentials file is kept (the package's conffiles do the same).
for kept in "$CONFDIR/musicetl.toml" "$CONFDIR/credentials"; do
    if [ -e "$kept" ]; then cp -p "$kept" "$kept.keep"; fi
done
musicetl_install_tree "$root" "$built" ""
for kept in "$CONFDIR/musicetl.toml" "$CONFDIR/credentials"; do
    if [ -e "$kept.keep" ]; then mv "$kept.keep" "$kept"; echo "install: kept your $kept" >&2; fi
done
mkdir -p "$STATEDIR/input" "$LOGDIR"
echo "install: MusicETL $MUSICETL_VERSION in $prefix; set the MongoDB URI in $CONFDIR/credentials," \
     "put the inputs in $STATEDIR/input (or set metadata and audio in $CONFDIR/musicetl.toml)" >&2
