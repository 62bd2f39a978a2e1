#!/usr/bin/env bash
# The main job end to end on the bundled sample: installs what is missing, builds, starts a
# local MongoDB-compatible server (unless MONGODB_URI names one), runs etl-nightly into
# ./work-sample, stops the server, and prints where output.csv is. The sample's audio clips are
# named after tracks of raw_tracks.csv (CC0 clips; see Tests/Fixtures/sample/audio/README.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
work=${MUSICETL_WORK_DIR:-$root/work-sample}

"$root/Jobs/setup.sh"
swift build -c release --product etl-nightly >&2

if [ -z "${MONGODB_URI:-}" ]; then
    state=$(mktemp -d)
    trap '"$root/Jobs/local-mongo.sh" stop --state-dir "$state"; rm -rf "$state"' EXIT
    MONGODB_URI=$("$root/Jobs/local-mongo.sh" start --state-dir "$state")
    export MONGODB_URI
fi

bin=$(swift build -c release --show-bin-path)
"$bin/etl-nightly" --metadata "$root/Tests/Fixtures/sample/fma_metadata" \
    --tracks-file raw_tracks.csv --audio "$root/Tests/Fixtures/sample/audio" \
    --work-dir "$work" --schemas "$root/Schemas"
echo "output.csv: $work/exports/training/output.csv"
