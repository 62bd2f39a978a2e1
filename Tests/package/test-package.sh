#!/usr/bin/env bash
# The Debian package, tested as shipped: builds it with Jobs/package.sh, installs it on this
# machine with dpkg -i, and runs the nightly twice against the local test server, once as
# /etc/cron.d/musicetl says and once as musicetl-nightly.service says. Each command line is read
# out of the installed file (nothing of it is written here) and run from / under `env -i` with only
# the variables that file sets, as the user it names, with the Swift toolchain hidden (an empty
# tmpfs over it, so an executable that needed it could not start). The systemd run also gets the
# unit's ProtectSystem=strict as far as mounts go: everything read-only but ReadWritePaths=, a
# private /tmp. Each must exit 0 and write output.csv under the work dir the package configures.
# Then the package is purged. Also checks: ldd finds nothing in the toolchain, --version is the
# package's version, the files' owners and modes, the conffiles, systemd-analyze's reading of the
# units, and that Jobs/install.sh --prefix lays out the same tree, whose jobs find their schemas.
#
# Needs root (dpkg -i, a system user, mount namespaces); otherwise it says so and skips.
# Re-runnable: a package left installed by an interrupted run is purged first; a musicetl package
# installed by anyone else is left alone (and the test skips).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
say() { echo "test-package: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    say "SKIPPED: needs root (it installs the package with dpkg -i and runs jobs as the musicetl user)"
    exit 0
fi
marker=/var/lib/musicetl/.installed-by-package-test
package_status=$(dpkg-query -W -f='${Status}' musicetl 2>/dev/null || true)
case $package_status in
    ''|*not-installed) ;;
    *'ok installed')
        if [ ! -e "$marker" ]; then
            say "SKIPPED: a musicetl package is installed on this machine and not by this test; not touching it"
            exit 0
        fi
        say "purging the musicetl package an interrupted run left"
        dpkg --purge musicetl >/dev/null ;;
    *)
        say "purging what is left of a musicetl package ($package_status)"
        dpkg --purge musicetl >/dev/null ;;
esac

scratch=$(mktemp -d)
installed=0
cleanup() {
    "$root/Jobs/local-mongo.sh" stop --state-dir "$scratch/mongo" || true
    if [ $installed -eq 1 ]; then dpkg --purge musicetl >/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# --- the package --------------------------------------------------------------------------------
started=$(date +%s)
deb=$("$root/Jobs/package.sh" --output "$scratch")
say "Jobs/package.sh built $(basename "$deb") in $(( $(date +%s) - started )) s"
version=$(sed -n 's/^ *public static let version = "\([^"]*\)".*/\1/p' "$root/Sources/Pipeline/Version.swift")
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "package version $(dpkg-deb -f "$deb" Version), Version.swift $version"
depends=$(dpkg-deb -f "$deb" Depends)
say "Depends: $depends"
grep -q 'libmongoc' <<<"$depends" || fail "Depends lacks libmongoc: $depends"
if grep -qi 'swift' <<<"$depends"; then fail "Depends names the Swift toolchain: $depends"; fi
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
for conffile in /etc/musicetl/musicetl.toml /etc/musicetl/credentials /etc/cron.d/musicetl /etc/logrotate.d/musicetl; do
    grep -qx "$conffile" <<<"$conffiles" || fail "$conffile is not a conffile"
done

# --- static linking: ldd, then the binaries with the toolchain out of sight ---------------------
dpkg-deb -x "$deb" "$scratch/extracted"
swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
toolchain=$(cd "$swift_bin/.." && pwd)   # /opt/swift/usr: its lib/ holds the Swift runtime
for job in etl-extract etl-features etl-normalize etl-load etl-export etl-nightly; do
    binary=$scratch/extracted/usr/bin/$job
    libraries=$(ldd "$binary")
    if grep -E "not found|$toolchain/|libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime" <<<"$libraries"; then
        fail "$job loads the libraries above: not linked statically, or missing"
    fi
    if readelf -d "$binary" | grep -E 'R(UN)?PATH' | grep -F "$toolchain"; then
        fail "$job has a RUNPATH into the toolchain"
    fi
done
case $toolchain in
    /usr|/) hidden_toolchain="" ; say "the toolchain is in $toolchain: it cannot be hidden, ldd alone checked" ;;
    *) hidden_toolchain=$toolchain ;;
esac

# isolated [--protect WRITABLE] COMMAND...: runs COMMAND in a private mount namespace with the
# toolchain hidden and, on a host where systemd runs, /run/systemd hidden too (the cron line stands
# aside for the timer there; here it must run). --protect mounts what ProtectSystem=strict,
# ReadWritePaths=WRITABLE and PrivateTmp=yes mean: every mount read-only but /proc, /sys and /dev,
# WRITABLE bound read-write over that, and an empty /tmp.
isolated() {
    local writable=""
    if [ "$1" = --protect ]; then writable=$2; shift 2; fi
    unshare --mount --propagation private -- /bin/sh -c '
        set -e
        hidden=$1 writable=$2
        shift 2
        if [ -n "$writable" ]; then
            for mountpoint in $(awk "{ print \$5 }" /proc/self/mountinfo | sort -u); do
                case $mountpoint in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
                mount -o remount,bind,ro "$mountpoint" 2>/dev/null || true
            done
            if touch /etc/.musicetl-probe 2>/dev/null; then
                rm -f /etc/.musicetl-probe
                echo "test-package: could not make / read-only" >&2
                exit 1
            fi
            mount --bind "$writable" "$writable"
            mount -o remount,bind,rw "$writable"
            mount -t tmpfs -o mode=1777 none /tmp
        fi
        if [ -n "$hidden" ]; then mount -t tmpfs -o ro,mode=0755 none "$hidden"; fi
        if [ -d /run/systemd/system ]; then mount -t tmpfs none /run/systemd; fi
        exec "$@"' isolated "$hidden_toolchain" "$writable" "$@"
}

version_output=$(isolated "$scratch/extracted/usr/bin/etl-nightly" --version) \
    || fail "etl-nightly --version does not start without the toolchain"
[ "$version_output" = "$version" ] || fail "etl-nightly --version printed '$version_output', not $version"

# --- the same tree under a prefix (before the package is in /usr, so its schemas cannot help) ---
sample=$root/Tests/Fixtures/sample
prefix=$scratch/prefix
"$root/Jobs/install.sh" --prefix "$prefix" --no-build 2>/dev/null
for path in bin/etl-nightly share/musicetl/schemas/genre.schema.json etc/musicetl/musicetl.toml \
    etc/cron.d/musicetl etc/logrotate.d/musicetl lib/systemd/system/musicetl-nightly.service var/lib/musicetl/input; do
    [ -e "$prefix/$path" ] || fail "install.sh --prefix: no $path"
done
[ "$(stat -c '%a' "$prefix/etc/musicetl/credentials")" = 600 ] || fail "install.sh --prefix: credentials not 0600"
grep -qF "$prefix/bin/etl-nightly --config $prefix/etc/musicetl/musicetl.toml" "$prefix/etc/cron.d/musicetl" \
    || fail "install.sh --prefix: the cron file does not name the prefix's paths"
status=0
(cd / && isolated env -i "$prefix/bin/etl-extract" --metadata "$sample/fma_metadata" --quiet \
    --work-dir "$prefix/var/lib/musicetl") || status=$?
[ $status -eq 0 ] || fail "install.sh --prefix: etl-extract from / exited $status"
[ -s "$prefix/var/lib/musicetl/staging/metadata/genres.jsonl" ] || fail "install.sh --prefix: etl-extract staged nothing"
say "install.sh --prefix: the same tree; its etl-extract runs from / and finds its schemas"

# --- install ------------------------------------------------------------------------------------
installed=1
dpkg -i "$deb" >/dev/null
touch "$marker"
getent passwd musicetl >/dev/null || fail "no musicetl user after install"
[ "$(stat -c '%a %U' /etc/musicetl/credentials)" = "600 musicetl" ] || fail "credentials: $(stat -c '%a %U' /etc/musicetl/credentials)"
[ "$(stat -c '%U' /var/lib/musicetl)" = musicetl ] || fail "/var/lib/musicetl is not the service user's"
[ -f /usr/share/musicetl/schemas/genre.schema.json ] || fail "no schemas in /usr/share/musicetl/schemas"
for name in /etc/cron.d/*musicetl*; do
    # Debian's cron reads only names of letters, digits, - and _ (run-parts' rule).
    [[ $(basename "$name") =~ ^[A-Za-z0-9_-]+$ ]] || fail "cron ignores $name"
done
[ -f /etc/cron.d/musicetl ] || fail "no /etc/cron.d/musicetl"
# systemd's own reading of the installed units: an unknown setting or a missing program is reported.
if command -v systemd-analyze >/dev/null; then
    verified=$(systemd-analyze verify --man=no musicetl-nightly.service musicetl-nightly.timer \
        musicetl-failure@musicetl-nightly.service.service 2>&1) || fail "systemd-analyze verify: $verified"
    [ -z "$verified" ] || fail "systemd-analyze verify: $verified"
else
    say "no systemd-analyze here: the units' syntax is not checked"
fi
if command -v logrotate >/dev/null; then
    logrotate --debug /etc/logrotate.d/musicetl >/dev/null 2>"$scratch/logrotate.txt" \
        || fail "logrotate --debug: $(cat "$scratch/logrotate.txt")"
else
    say "no logrotate here: /etc/logrotate.d/musicetl is not checked"
fi

# --- what an operator does: the MongoDB URI, the inputs where musicetl.toml says ----------------
uri=$("$root/Jobs/local-mongo.sh" start --state-dir "$scratch/mongo")
sed -i "s|^MONGODB_URI=.*|MONGODB_URI='$uri'|" /etc/musicetl/credentials
toml_value() { sed -n "s/^$1 *= *\"\(.*\)\".*/\1/p" /etc/musicetl/musicetl.toml | head -n 1; }
work=$(toml_value work-dir)
metadata=$(toml_value metadata)
audio=$(toml_value audio)
[ "$work" = /var/lib/musicetl ] || fail "musicetl.toml: work-dir is '$work', not /var/lib/musicetl"
# The raw track list names the sample's audio clips (tracks.csv, preferred when present, does not).
install -d -o musicetl -g musicetl "$metadata" "$audio"
cp "$sample"/fma_metadata/{genres,raw_albums,raw_artists,raw_tracks}.csv "$metadata/"
cp -r "$sample/audio/." "$audio/"
chown -R musicetl:musicetl "$metadata" "$audio"
output=$work/exports/training/output.csv

# Sets `assignments` from KEY=VALUE lines on stdin (comments and blank lines skipped, one pair
# of surrounding quotes removed), as cron and systemd's EnvironmentFile= read them.
assignments=()
read_assignments() {
    local line key value
    while IFS= read -r line; do
        line=${line#"${line%%[![:space:]]*}"}
        case $line in ''|'#'*|';'*) continue ;; esac
        [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || continue
        key=${line%%=*}
        value=${line#*=}
        if [[ $value =~ ^\'(.*)\'$ || $value =~ ^\"(.*)\"$ ]]; then value=${BASH_REMATCH[1]}; fi
        assignments+=("$key=$value")
    done
}

# --- the cron line, as /etc/cron.d/musicetl has it ----------------------------------------------
cron_file=/etc/cron.d/musicetl
assignments=()
read_assignments < <(grep -E '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*=' "$cron_file")
cron_environment=("${assignments[@]}")
jobs=$(grep -Ev '^[[:space:]]*(#|$)|^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*=' "$cron_file")
[ "$(wc -l <<<"$jobs")" -eq 1 ] || fail "$cron_file: expected one job line, found: $jobs"
read -r minute hour day month weekday cron_user cron_command <<<"$jobs"
[[ "$minute $hour $day $month $weekday" =~ ^[0-9*/,-]+( [0-9*/,-]+){4}$ ]] || fail "$cron_file: not a schedule: $jobs"
if grep -q 'MONGODB_URI=\|mongodb://' <<<"$jobs"; then fail "$cron_file: the job line names the MongoDB URI"; fi
cron_shell=/bin/sh
for assignment in "${cron_environment[@]}"; do
    case $assignment in SHELL=*) cron_shell=${assignment#SHELL=} ;; esac
done
say "cron: as $cron_user with ${cron_environment[*]}: $cron_command"
rm -f "$output"
status=0
(cd / && isolated env -i "${cron_environment[@]}" \
    /usr/bin/setpriv --reuid="$cron_user" --regid="$cron_user" --init-groups -- "$cron_shell" -c "$cron_command") || status=$?
[ $status -eq 0 ] || { tail -n 5 /var/log/musicetl/nightly.log >&2 || true; fail "the cron line exited $status"; }
[ -s "$output" ] || fail "the cron line wrote no $output"
[ "$(stat -c '%U' "$output")" = "$cron_user" ] || fail "$output is not $cron_user's"
tail -n 1 /var/log/musicetl/nightly.log | grep -q '^etl-nightly ok' \
    || fail "nightly.log does not end with the ok summary: $(tail -n 1 /var/log/musicetl/nightly.log)"
say "cron line: exit 0, $(wc -l < "$output") lines in $output"

# --- the unit's ExecStart, as musicetl-nightly.service has it -----------------------------------
unit=/lib/systemd/system/musicetl-nightly.service
unit_value() { sed -n "s/^$1=//p" "$unit"; }
exec_start=$(unit_value ExecStart)
[ "$(wc -l <<<"$exec_start")" -eq 1 ] && [ -n "$exec_start" ] || fail "$unit: expected one ExecStart=, found: $exec_start"
# Plain words only: quoting, specifiers or variables would be systemd's to expand, not this test's.
[[ $exec_start =~ ^/[^\"\'%\$\\]*$ ]] || fail "$unit: ExecStart is more than plain words: $exec_start"
read -r -a exec_words <<<"$exec_start"
service_user=$(unit_value User)
[ -n "$service_user" ] || fail "$unit: no User="
directory=$(unit_value WorkingDirectory)
assignments=()
read_assignments < <(unit_value Environment | tr ' ' '\n')
while IFS= read -r environment_file; do
    [ -r "${environment_file#-}" ] || { [[ $environment_file == -* ]] && continue; fail "$unit: no $environment_file"; }
    read_assignments < "${environment_file#-}"
done < <(unit_value EnvironmentFile)
service_environment=("${assignments[@]}")
grep -q "^EnvironmentFile=/etc/musicetl/credentials$" "$unit" || fail "$unit does not read /etc/musicetl/credentials"
grep -q '^OnFailure=' "$unit" || fail "$unit: no OnFailure="
for setting in ProtectSystem=strict PrivateTmp=yes; do
    grep -qx "$setting" "$unit" || fail "$unit: no $setting (this test runs the job under it)"
done
writable=$(unit_value ReadWritePaths)
[[ $writable =~ ^/[^[:space:]]*$ ]] || fail "$unit: expected one ReadWritePaths= directory, found: $writable"
say "systemd: as $service_user with ${service_environment[*]//MONGODB_URI=*/MONGODB_URI=…}: $exec_start"

rm -f "$output"
status=0
(cd "${directory:-/}" && isolated --protect "$writable" env -i "${service_environment[@]}" \
    /usr/bin/setpriv --reuid="$service_user" --regid="$service_user" --init-groups -- "${exec_words[@]}") || status=$?
[ $status -eq 0 ] || fail "the unit's ExecStart exited $status"
[ -s "$output" ] || fail "the unit's ExecStart wrote no $output"
[ "$(stat -c '%U' "$output")" = "$service_user" ] || fail "$output is not $service_user's"
say "systemd ExecStart: exit 0, $(wc -l < "$output") lines in $output"

# --- purge: nothing left behind -----------------------------------------------------------------
installed=0
dpkg --purge musicetl >/dev/null
for gone in /usr/bin/etl-nightly /usr/share/musicetl /etc/musicetl /etc/cron.d/musicetl /var/lib/musicetl /var/log/musicetl; do
    [ ! -e "$gone" ] || fail "$gone is still there after dpkg --purge"
done
say "ok: built, installed, ran from cron and systemd as shipped, purged in $(( $(date +%s) - started )) s"
