#!/usr/bin/env bash
# `make report-check`: the demo's day backfilled into a lake, one incident acknowledged, the
# report written, and the report rendered by headless Chromium (Debian's package) to a PNG.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-build/report-check}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
        CHROMIUM=$(command -v chromium)
    else
        echo "report-check needs Chromium: sudo apt-get install chromium (or set CHROMIUM=)" >&2
        exit 1
    fi
fi
rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN/detector" backfill sample_logs/AWSLogs sample_logs/s3-access-logs --lake "$OUT/lake" \
    --config sample_logs/demo.toml --no-progress --alerts "$OUT/alerts.jsonl" >/dev/null
first=$(head -1 "$OUT/alerts.jsonl" | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["alert_id"])')
DETECTOR_ANALYST=report-check "$BIN/detector" alerts ack "$first" --lake "$OUT/lake" >/dev/null
"$BIN/detector" report --lake "$OUT/lake" --out "$OUT/report.html"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,4000 --screenshot="$OUT/report.png" "file://$PWD/$OUT/report.html" \
    2>"$OUT/chromium.log"
test -s "$OUT/report.png"
echo "report rendered: $OUT/report.png ($(stat -c %s "$OUT/report.png") bytes) from $OUT/report.html"
