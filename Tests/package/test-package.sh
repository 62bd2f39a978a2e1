#!/usr/bin/env bash
# The Debian package, tested as shipped: builds it with Jobs/package.sh, installs it on this
# machine with dpkg -i, and runs the nightly twice against the local test server, once as
# /etc/cron.d/musicetl says and once as musicetl-nightly.service says. Each command line is read
# out of the installed file (nothing of it is written here) and run from / under `env -i` with only
# the variables that file sets, as the user it names, with the Swift toolchain hidden (an empty
# tmpfs over it, so an executable that needed it could not start). The systemd run also gets the
# unit's ProtectSystem=strict as far as mounts go: everything read-only but ReadWritePaths=, a
# private /tmp. Each must exit 0 and write output.csv under the work dir the package configures,
# reading the inputs where musicetl.toml says (/srv/musicetl). The cron line must also exit 0
# silently when another run holds the lock (75) and print the summary on another failure. Then the
# package is purged: the inputs must survive it. Also checks: ldd finds nothing in the toolchain,
# --version is the package's version, the files' owners and modes (credentials root:musicetl
# 0640), the conffiles, systemd-analyze's reading of the units, that prerm stops a running night,
# that template rendering and install.sh's path checks hold, and that Jobs/install.sh --prefix
# lays out the same tree, owned as its service user needs: that tree's cron line runs as musicetl.
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
# The inputs' directory survives a purge by design; this test removes it only if it made it.
inputs=/srv/musicetl
inputs_marker=$inputs/.made-by-package-test
if [ -e "$inputs" ] && [ ! -e "$inputs_marker" ]; then
    say "SKIPPED: $inputs exists and this test did not make it; not touching it"
    exit 0
fi
rm -rf "$inputs"

scratch=$(mktemp -d)
chmod 0755 "$scratch"   # the prefix install below runs as musicetl
installed=0
cleanup() {
    "$root/Jobs/local-mongo.sh" stop --state-dir "$scratch/mongo" || true
    if [ $installed -eq 1 ]; then dpkg --purge musicetl >/dev/null || true; fi
    if [ -e "$inputs_marker" ]; then rm -rf "$inputs"; fi
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

# --- prerm stops a running night, where systemd runs (a fake systemctl records what it is told) ---
dpkg-deb -e "$deb" "$scratch/control"
mkdir -p "$scratch/fake-bin"
printf '#!/bin/sh\necho "$*" >> %s/systemctl.log\n' "$scratch" > "$scratch/fake-bin/systemctl"
chmod +x "$scratch/fake-bin/systemctl"
run_prerm() {   # run_prerm yes|no: with /run/systemd/system present or not, in a private /run
    rm -f "$scratch/systemctl.log"
    unshare --mount --propagation private -- /bin/sh -c '
        set -e
        mount -t tmpfs none /run
        if [ "$1" = yes ]; then mkdir -p /run/systemd/system; fi
        PATH=$2:/usr/bin:/bin exec /bin/sh "$3" remove' run-prerm "$1" "$scratch/fake-bin" "$scratch/control/prerm" \
        || fail "prerm remove exited $? (systemd running: $1)"
}
run_prerm yes
grep -Eq '^stop( .*)? musicetl-nightly\.service( |$)' "$scratch/systemctl.log" 2>/dev/null \
    || fail "prerm does not stop musicetl-nightly.service: $(cat "$scratch/systemctl.log" 2>/dev/null)"
grep -Eq '^stop( .*)? musicetl-nightly\.timer( |$)' "$scratch/systemctl.log" || fail "prerm does not stop the timer"
run_prerm no
[ ! -e "$scratch/systemctl.log" ] || fail "prerm calls systemctl where systemd does not run: $(cat "$scratch/systemctl.log")"

# --- templates and paths: @@ is text, not a placeholder; paths the templates cannot hold are refused
printf 'MAILTO=ops@@example.org\n@BINDIR@/etl-nightly\n' > "$scratch/template"
(. "$root/Jobs/layout.sh" && musicetl_set_layout /usr /etc /var /lib/systemd/system /srv/musicetl \
    && musicetl_render "$scratch/template" "$scratch/rendered" 0644) || fail "layout: rendering a template with @@ failed"
[ "$(cat "$scratch/rendered")" = "$(printf 'MAILTO=ops@@example.org\n/usr/bin/etl-nightly')" ] \
    || fail "layout: rendered $(cat "$scratch/rendered")"
for refused in "$scratch/with space" "$scratch/a&b" "$scratch/a|b"; do
    status=0
    "$root/Jobs/install.sh" --prefix "$refused" --no-build 2>"$scratch/refused.txt" || status=$?
    [ $status -eq 64 ] || fail "install.sh --prefix '$refused' exited $status, not 64"
    grep -qF "only letters, digits" "$scratch/refused.txt" || fail "install.sh --prefix '$refused' said: $(cat "$scratch/refused.txt")"
    [ ! -e "$refused" ] || fail "install.sh --prefix '$refused' created it"
done

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

# read_cron_file FILE: sets cron_environment, cron_user, cron_command and cron_shell from its one job line.
read_cron_file() {
    local cron_file=$1 jobs assignment minute hour day month weekday
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
}
# run_cron: the job line as cron runs it, from /; its output (what cron mails) in
# $scratch/cron-mail.txt; sets status.
run_cron() {
    status=0
    (cd / && isolated env -i "${cron_environment[@]}" /usr/bin/setpriv --reuid="$cron_user" \
        --regid="$cron_user" --init-groups -- "$cron_shell" -c "$cron_command") >"$scratch/cron-mail.txt" 2>&1 || status=$?
}

uri=$("$root/Jobs/local-mongo.sh" start --state-dir "$scratch/mongo")
sample=$root/Tests/Fixtures/sample

# --- the same tree under a prefix (before the package is in /usr, so its schemas cannot help) ---
prefix=$scratch/prefix
if getent passwd musicetl >/dev/null; then
    "$root/Jobs/install.sh" --prefix "$prefix" --no-build 2>/dev/null
    say "install.sh --prefix: the user musicetl exists (from an earlier run): install.sh gave it its files"
else
    "$root/Jobs/install.sh" --prefix "$prefix" --no-build 2>"$scratch/install.txt"
    # Without the user it must say what to run; what it says is run here, as an operator would.
    grep -q '^    ' "$scratch/install.txt" || fail "install.sh without the musicetl user printed no commands: $(cat "$scratch/install.txt")"
    sed -n 's/^    //p' "$scratch/install.txt" > "$scratch/install-commands.sh"
    sh -e "$scratch/install-commands.sh" || fail "install.sh's commands failed: $(cat "$scratch/install-commands.sh")"
    getent passwd musicetl >/dev/null || fail "install.sh's commands made no musicetl user"
fi
for path in bin/etl-nightly share/musicetl/schemas/genre.schema.json share/musicetl/schemas/mssd/play.schema.json \
    etc/musicetl/musicetl.toml \
    etc/cron.d/musicetl etc/logrotate.d/musicetl lib/systemd/system/musicetl-nightly.service \
    srv/musicetl/fma_metadata srv/musicetl/audio; do
    [ -e "$prefix/$path" ] || fail "install.sh --prefix: no $path"
done
[ "$(stat -c '%a %U %G' "$prefix/etc/musicetl/credentials")" = "640 root musicetl" ] \
    || fail "install.sh --prefix: credentials $(stat -c '%a %U %G' "$prefix/etc/musicetl/credentials"), not 640 root musicetl"
for directory in var/lib/musicetl var/log/musicetl; do
    [ "$(stat -c '%U' "$prefix/$directory")" = musicetl ] || fail "install.sh --prefix: $directory is not musicetl's"
done
grep -qF "$prefix/bin/etl-nightly --config $prefix/etc/musicetl/musicetl.toml" "$prefix/etc/cron.d/musicetl" \
    || fail "install.sh --prefix: the cron file does not name the prefix's paths"
grep -qx "metadata = \"$prefix/srv/musicetl/fma_metadata\"" "$prefix/etc/musicetl/musicetl.toml" \
    || fail "install.sh --prefix: musicetl.toml does not read the inputs from $prefix/srv/musicetl"
# The raw track list names the sample's audio clips (tracks.csv, preferred when present, does not).
cp "$sample"/fma_metadata/{genres,raw_albums,raw_artists,raw_tracks}.csv "$prefix/srv/musicetl/fma_metadata/"
cp -r "$sample/audio/." "$prefix/srv/musicetl/audio/"
sed -i "s|^MONGODB_URI=.*|MONGODB_URI='$uri'|" "$prefix/etc/musicetl/credentials"
read_cron_file "$prefix/etc/cron.d/musicetl"
[ "$cron_user" = musicetl ] || fail "install.sh --prefix: the cron line runs as $cron_user"
run_cron
[ $status -eq 0 ] || fail "install.sh --prefix: its cron line exited $status as musicetl: $(cat "$scratch/cron-mail.txt")"
prefix_output=$prefix/var/lib/musicetl/exports/training/output.csv
[ -s "$prefix_output" ] || fail "install.sh --prefix: its cron line wrote no $prefix_output"
[ "$(stat -c '%U' "$prefix_output")" = musicetl ] || fail "$prefix_output is not musicetl's"
say "install.sh --prefix: the same tree; its cron line runs as musicetl from / and finds its schemas"

# --- install ------------------------------------------------------------------------------------
installed=1
dpkg -i "$deb" >/dev/null
touch "$marker"
getent passwd musicetl >/dev/null || fail "no musicetl user after install"
# The service user reads the password and cannot change it.
[ "$(stat -c '%a %U %G' /etc/musicetl/credentials)" = "640 root musicetl" ] \
    || fail "credentials: $(stat -c '%a %U %G' /etc/musicetl/credentials), not 640 root musicetl"
for directory in "$inputs" "$inputs/fma_metadata" "$inputs/audio"; do
    [ "$(stat -c '%a %U %G' "$directory")" = "750 root musicetl" ] || fail "$directory: $(stat -c '%a %U %G' "$directory" 2>&1)"
done
touch "$inputs_marker"
[ "$(stat -c '%U' /var/lib/musicetl)" = musicetl ] || fail "/var/lib/musicetl is not the service user's"
[ -f /usr/share/musicetl/schemas/genre.schema.json ] || fail "no schemas in /usr/share/musicetl/schemas"
[ -f /usr/share/musicetl/schemas/mssd/play.schema.json ] || fail "no MSSD schemas in /usr/share/musicetl/schemas/mssd"
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
sed -i "s|^MONGODB_URI=.*|MONGODB_URI='$uri'|" /etc/musicetl/credentials
toml_value() { sed -n "s/^$1 *= *\"\(.*\)\".*/\1/p" /etc/musicetl/musicetl.toml | head -n 1; }
work=$(toml_value work-dir)
metadata=$(toml_value metadata)
audio=$(toml_value audio)
[ "$work" = /var/lib/musicetl ] || fail "musicetl.toml: work-dir is '$work', not /var/lib/musicetl"
# Outside the work dir, which a purge removes.
[ "$metadata" = "$inputs/fma_metadata" ] && [ "$audio" = "$inputs/audio" ] \
    || fail "musicetl.toml: inputs $metadata and $audio, not in $inputs"
# Copied as root, as an operator would: the service user only reads them.
cp "$sample"/fma_metadata/{genres,raw_albums,raw_artists,raw_tracks}.csv "$metadata/"
cp -r "$sample/audio/." "$audio/"
output=$work/exports/training/output.csv

# --- the cron line, as /etc/cron.d/musicetl has it ----------------------------------------------
read_cron_file /etc/cron.d/musicetl
say "cron: as $cron_user with ${cron_environment[*]}: $cron_command"
rm -f "$output"
run_cron
[ $status -eq 0 ] || { tail -n 5 /var/log/musicetl/nightly.log >&2 || true; fail "the cron line exited $status: $(cat "$scratch/cron-mail.txt")"; }
[ ! -s "$scratch/cron-mail.txt" ] || fail "the cron line printed (cron would mail it): $(cat "$scratch/cron-mail.txt")"
[ -s "$output" ] || fail "the cron line wrote no $output"
[ "$(stat -c '%U' "$output")" = "$cron_user" ] || fail "$output is not $cron_user's"
tail -n 1 /var/log/musicetl/nightly.log | grep -q '^etl-nightly ok' \
    || fail "nightly.log does not end with the ok summary: $(tail -n 1 /var/log/musicetl/nightly.log)"
say "cron line: exit 0, $(wc -l < "$output") lines in $output"
# Another run holding the lock (75) is normal: exit 0 and nothing for cron to mail.
exec 9>>"$work/.musicetl.lock"
flock --nonblock 9 || fail "could not take $work/.musicetl.lock"
run_cron
exec 9>&-
[ $status -eq 0 ] || fail "the cron line exited $status while another run held the lock"
[ ! -s "$scratch/cron-mail.txt" ] || fail "the cron line printed while another run held the lock: $(cat "$scratch/cron-mail.txt")"
tail -n 1 /var/log/musicetl/nightly.log | grep -q 'locked' \
    || fail "the locked run did not exit 75 (locked): $(tail -n 1 /var/log/musicetl/nightly.log)"
# Any other failure keeps its status and prints the summary, for cron to mail.
cp -p /etc/musicetl/musicetl.toml "$scratch/musicetl.toml.saved"
echo 'no-such-key = 1' >> /etc/musicetl/musicetl.toml
run_cron
cp -p "$scratch/musicetl.toml.saved" /etc/musicetl/musicetl.toml
[ $status -eq 64 ] || fail "the cron line exited $status with a bad config, not 64"
grep -q 'no-such-key' "$scratch/cron-mail.txt" || fail "the cron line did not print the failure: $(cat "$scratch/cron-mail.txt")"
say "cron line: a locked night exits 0 silently; a bad config exits 64 and prints: $(cat "$scratch/cron-mail.txt")"

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

# --- purge: nothing left behind but the inputs ---------------------------------------------------
installed=0
dpkg --purge musicetl >/dev/null
for gone in /usr/bin/etl-nightly /usr/share/musicetl /etc/musicetl /etc/cron.d/musicetl /var/lib/musicetl /var/log/musicetl; do
    [ ! -e "$gone" ] || fail "$gone is still there after dpkg --purge"
done
for kept in "$metadata/raw_tracks.csv" "$audio/000"; do
    [ -e "$kept" ] || fail "dpkg --purge removed the input $kept"
done
say "ok: built, installed, ran from cron and systemd as shipped, purged in $(( $(date +%s) - started )) s"
