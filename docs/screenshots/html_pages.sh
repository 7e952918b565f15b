#!/usr/bin/env bash
# The two `-o html` pages of the port-in story, looked at in a real browser: headless Chromium
# (Debian's `chromium` package) screenshots each at 1280 px wide into docs/screenshots/.
# `make screenshots` runs it; it is not part of `make test` (it needs Chromium, and takes ~20 s).
#
# A sandbox is served with a rate limit, so that the run is paced by 429s and the report's
# chart has something to draw.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bulkx="$repo/.venv/bin/bulkx"
shots="$repo/docs/screenshots"
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
    echo "error: no chromium on PATH (Debian: apt-get install chromium)" >&2
    exit 6
fi

work=$(mktemp -d)
server=""
cleanup() {
    if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cp -rL "$repo/plans" "$repo/samples" "$work/"
cd "$work"
export CARRIERX_TOKEN=sandbox-token BULKX_HOME="$work/.bulkx"

"$bulkx" sandbox seed --db "$work/served.db" --ported samples/ported-numbers.csv >/dev/null 2>&1
port=$("$repo/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bulkx" sandbox serve --port "$port" --db "$work/served.db" --rate-limit 12 >"$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port/core/v2"
"$repo/.venv/bin/python" - "$port" <<'PY'  # until the server answers (10 s at most)
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
PY

"$bulkx" plan plans/port-in.yaml --base-url "$base" -o html --output-file audit.html 2>/dev/null
"$bulkx" apply plans/port-in.yaml --base-url "$base" --yes 2>"$work/apply.log" >/dev/null
run_id=$(sed -n 's/.*run id: \([^ ]*\).*/\1/p' "$work/apply.log" | head -1)
"$bulkx" report "$run_id" -o html --output-file run.html 2>/dev/null

shoot() {  # page, png, height
    "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="1280,$3" --screenshot="$shots/$2" "file://$work/$1" >/dev/null 2>&1
    echo "wrote docs/screenshots/$2"
}
shoot audit.html plan_audit_page.png 1400
shoot run.html run_report_page.png 1400
