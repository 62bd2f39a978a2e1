# Where an installed MusicETL keeps its files, and how they get there: sourced by Jobs/package.sh
# (the Debian package: prefix /usr, /etc, /var) and Jobs/install.sh (any prefix), so both lay out
# the same tree from the same templates.
#
#   musicetl_set_layout PREFIX SYSCONFDIR LOCALSTATEDIR UNITDIR INPUTDIR   the paths below
#   musicetl_build_release ROOT [BUILD]                           static release build (BUILD 0: none); prints its bin dir
#   musicetl_check_static BINDIR                                  fails if an executable needs the Swift toolchain
#   musicetl_install_tree ROOT BUILT_BINDIR DESTDIR               the tree, under DESTDIR (empty: in place)
#
# Layout (package paths in brackets):
#   BINDIR      the six executables                               [/usr/bin]
#   SCHEMADIR   the JSON Schemas, found there by the jobs          [/usr/share/musicetl/schemas]
#   DOCDIR      README.md, musicetl.example.toml                  [/usr/share/doc/musicetl]
#   CONFDIR     musicetl.toml, credentials (0600)                 [/etc/musicetl]
#   CRONDIR     the cron file `musicetl` (no dot: cron skips those) [/etc/cron.d]
#   LOGROTATEDIR                                                  [/etc/logrotate.d]
#   UNITDIR     musicetl-nightly.{service,timer}, musicetl-failure@.service [/lib/systemd/system]
#   STATEDIR    the work dir of the installed nightly             [/var/lib/musicetl]
#   LOGDIR      nightly.log of the cron job                       [/var/log/musicetl]
#   INPUTDIR    its inputs, fma_metadata/ and audio/: outside STATEDIR, which a purge removes,
#               and never removed by the package                  [/srv/musicetl]
# The templates (Jobs/cron, Jobs/systemd, Jobs/etc, Jobs/logrotate, Jobs/debian) name these as
# @BINDIR@, @SYSCONFDIR@, @STATEDIR@, @LOGDIR@, @INPUTDIR@, @USER@; rendering fails if one is left.
# They go unquoted into a cron line, systemd units and shell scripts, so every path is limited to
# letters, digits and . _ - + / (musicetl_set_layout refuses others).

musicetl_products=(etl-extract etl-features etl-normalize etl-load etl-export etl-nightly)
musicetl_user=musicetl

# A path the templates can hold as it is: absolute, and no space, quote, &, |, %, $, @ or the like.
musicetl_check_path() {
    local what=$1 path=$2
    if [[ ! $path =~ ^/[A-Za-z0-9._+/-]*$ ]]; then
        echo "$what '$path': only letters, digits and . _ - + / are allowed (the path goes unquoted into the cron line, the systemd units and the package's scripts)" >&2
        return 1
    fi
}

musicetl_set_layout() {
    local prefix=$1 sysconfdir=$2 localstatedir=$3 path
    for path in "$@"; do musicetl_check_path layout "$path" || return 1; done
    BINDIR=$prefix/bin
    SCHEMADIR=$prefix/share/musicetl/schemas
    DOCDIR=$prefix/share/doc/musicetl
    SYSCONFDIR=$sysconfdir
    CONFDIR=$sysconfdir/musicetl
    CRONDIR=$sysconfdir/cron.d
    LOGROTATEDIR=$sysconfdir/logrotate.d
    UNITDIR=$4
    STATEDIR=$localstatedir/lib/musicetl
    LOGDIR=$localstatedir/log/musicetl
    INPUTDIR=$5
}

# The version is written once, in Sources/Pipeline/Version.swift (what --version prints).
musicetl_version() {
    local version
    version=$(sed -n 's/^ *public static let version = "\([^"]*\)".*/\1/p' "$1/Sources/Pipeline/Version.swift")
    if [ -z "$version" ]; then
        echo "layout: no version in $1/Sources/Pipeline/Version.swift" >&2
        return 1
    fi
    echo "$version"
}

# Release build with the Swift runtime and Foundation linked in, in its own scratch path so it
# never disturbs the debug build in .build. Progress on stderr, the bin directory on stdout.
# With BUILD 0 (--no-build), only prints the bin directory of the existing build.
musicetl_build_release() {
    local root=$1 build=${2:-1} product
    local flags=(-c release --static-swift-stdlib --scratch-path "$root/.build-release" --package-path "$root")
    if [ "$build" -eq 1 ]; then
        for product in "${musicetl_products[@]}"; do
            swift build "${flags[@]}" --product "$product" >&2 || return 1
        done
    fi
    swift build "${flags[@]}" --show-bin-path
}

# The directory of the Swift runtime libraries of the toolchain that builds here ("" if none).
musicetl_toolchain_libdir() {
    local swift
    swift=$(command -v swift 2>/dev/null) || return 0
    (cd "$(dirname "$(readlink -f "$swift")")/../lib" 2>/dev/null && pwd)
}

# An executable that would load the Swift runtime, Foundation or dispatch as shared libraries, or
# anything from the toolchain, would not start on a server without the toolchain.
musicetl_check_static() {
    local bindir=$1 product libraries runpath toolchain failed=0
    toolchain=$(musicetl_toolchain_libdir)
    for product in "${musicetl_products[@]}"; do
        libraries=$(ldd "$bindir/$product") || { echo "layout: ldd $bindir/$product failed" >&2; return 1; }
        if grep -E 'not found|libswift|libFoundation|libdispatch|libBlocksRuntime|lib_Foundation' <<<"$libraries" >&2 \
            || { [ -n "$toolchain" ] && grep -F "$toolchain/" <<<"$libraries" >&2; }; then
            echo "layout: $product needs the libraries above, from the Swift toolchain or missing" >&2
            failed=1
        fi
        runpath=$(readelf -d "$bindir/$product" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
        if [ -n "$runpath" ] && [ -n "$toolchain" ] && grep -qF "${toolchain%/lib}" <<<"$runpath"; then
            echo "layout: $product has RUNPATH $runpath into the Swift toolchain" >&2
            failed=1
        fi
    done
    return $failed
}

# Copies a template with the layout's paths filled in; refuses one with an unknown @NAME@ left.
musicetl_render() {
    local template=$1 output=$2 mode=$3
    mkdir -p "$(dirname "$output")"
    local name value substitutions=()
    for name in BINDIR SYSCONFDIR STATEDIR LOGDIR INPUTDIR DOCDIR USER VERSION; do
        case $name in
            USER) value=$musicetl_user ;;
            VERSION) value=${MUSICETL_VERSION:-} ;;
            *) value=${!name} ;;
        esac
        # \, & and the delimiter would mean something to sed in the replacement.
        value=$(printf '%s' "$value" | sed 's/[\\&|]/\\&/g')
        substitutions+=(-e "s|@$name@|$value|g")
    done
    sed "${substitutions[@]}" "$template" > "$output"
    if grep -nE '@[A-Z]+@' "$output" >&2; then
        echo "layout: $template: placeholders left (above)" >&2
        return 1
    fi
    chmod "$mode" "$output"
}

# The installed tree under DESTDIR (a package's staging root, or "" for a prefix install).
# The directories the service user writes (STATEDIR, LOGDIR) or reads (INPUTDIR) are made by the
# package's postinst, or by install.sh for a prefix install: not here.
musicetl_install_tree() {
    local root=$1 built=$2 dest=$3 product
    mkdir -p "$dest$BINDIR" "$dest$SCHEMADIR" "$dest$DOCDIR"
    for product in "${musicetl_products[@]}"; do
        install -m 0755 "$built/$product" "$dest$BINDIR/$product"
    done
    strip --strip-unneeded "${musicetl_products[@]/#/$dest$BINDIR/}"
    install -m 0644 "$root"/Schemas/*.schema.json "$dest$SCHEMADIR/"
    # Every dataset but FMA keeps its schemas in a folder of its name (Schemas/mssd/).
    local dataset
    for dataset in "$root"/Schemas/*/; do
        dataset=$(basename "$dataset")
        mkdir -p "$dest$SCHEMADIR/$dataset"
        install -m 0644 "$root/Schemas/$dataset"/*.schema.json "$dest$SCHEMADIR/$dataset/"
    done
    install -m 0644 "$root/README.md" "$root/Jobs/musicetl.example.toml" "$dest$DOCDIR/"
    musicetl_render "$root/Jobs/etc/musicetl.toml" "$dest$CONFDIR/musicetl.toml" 0644
    musicetl_render "$root/Jobs/etc/credentials" "$dest$CONFDIR/credentials" 0600
    musicetl_render "$root/Jobs/cron/musicetl" "$dest$CRONDIR/musicetl" 0644
    musicetl_render "$root/Jobs/logrotate/musicetl" "$dest$LOGROTATEDIR/musicetl" 0644
    local unit
    for unit in musicetl-nightly.service musicetl-nightly.timer musicetl-failure@.service; do
        musicetl_render "$root/Jobs/systemd/$unit" "$dest$UNITDIR/$unit" 0644
    done
}
