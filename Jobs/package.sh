#!/usr/bin/env bash
# Builds the Debian package from a clone: musicetl_<version>_<arch>.deb (version from
# Sources/Pipeline/Version.swift, which --version prints), with dpkg-deb only.
#
#   Jobs/package.sh [--output DIR] [--no-build]
#
# The six jobs are built in release mode with the Swift runtime and Foundation linked in
# (.build-release/); the build fails if one would still need the toolchain. The Debian C libraries
# they load become Depends: (dpkg-shlibdeps reads them off the executables). The tree is the one
# Jobs/layout.sh describes, with prefix /usr, /etc and /var. Prints the package's path on stdout.
# Compressed with gzip: xz took minutes over the six static executables for a quarter less size.
# Needs: the Swift toolchain, dpkg-dev and the -dev packages of Jobs/setup.sh; not root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=layout.sh
. "$root/Jobs/layout.sh"

output=$root
build=1
while [ $# -gt 0 ]; do
    case $1 in
        --output) output=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done

version=$(musicetl_version "$root")
arch=$(dpkg --print-architecture)
export MUSICETL_VERSION=$version

built=$(musicetl_build_release "$root" "$build")
musicetl_check_static "$built"

# The tree where dpkg-shlibdeps expects a package's: debian/<package>/ beside debian/control.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tree=$stage/debian/musicetl
musicetl_set_layout /usr /etc /var /lib/systemd/system /srv/musicetl
musicetl_install_tree "$root" "$built" "$tree"
mkdir -p "$tree/DEBIAN"

# The shared libraries the executables load, as Debian package relations (from the symbols and
# shlibs files of the installed libraries, so the minimum versions are right).
printf 'Source: musicetl\n\nPackage: musicetl\nArchitecture: any\n' > "$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O "${musicetl_products[@]/#/$tree$BINDIR/}")
shlibs=${shlibs#shlibs:Depends=}
if [ -z "$shlibs" ]; then
    echo "package: dpkg-shlibdeps found no libraries" >&2
    exit 1
fi

for script in postinst prerm postrm; do
    musicetl_render "$root/Jobs/debian/$script" "$tree/DEBIAN/$script" 0755
done
# Every file in /etc is the operator's to edit: upgrades keep their changes.
(cd "$tree" && find etc -type f | sort | sed 's|^|/|') > "$tree/DEBIAN/conffiles"
cat > "$tree/DEBIAN/control" <<EOF
Package: musicetl
Version: $version
Architecture: $arch
Maintainer: MusicETL maintainers <data-eng@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$tree" | cut -f1)
Depends: adduser, $shlibs
Recommends: cron | systemd-sysv, logrotate
Section: misc
Priority: optional
Description: nightly batch ETL of music metadata and audio into MongoDB
 Six jobs turn a Free Music Archive-style archive (metadata CSVs and audio files) into validated
 MongoDB documents and training CSV exports: etl-extract, etl-features, etl-normalize, etl-load,
 etl-export, and etl-nightly, which runs them in order. Runs nightly as the system user musicetl,
 from a systemd timer or /etc/cron.d/musicetl, with its inputs in /srv/musicetl (kept on purge),
 its work dir in /var/lib/musicetl and its MongoDB URI in /etc/musicetl/credentials.
EOF

mkdir -p "$output"
deb=$(cd "$output" && pwd)/musicetl_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip --build "$tree" "$deb" >&2
echo "$deb"
