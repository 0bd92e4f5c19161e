#!/usr/bin/env bash
# HTTP API load: wrk against GET /v1/trainings/{id} of one coordinator on loopback
# (docs/bench/http-load.md). Needs a build (bash deploy/build.sh) and wrk (apt install wrk).
# Usage: tests/bench/http_load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-10}"
connections="${2:-32}"
command -v wrk > /dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
bin=build
data="$(mktemp -d /tmp/easel-http-load-XXXXXX)"
trap 'kill "$coordinator" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT

"$bin/coordinator/easel-coordinator" --data-dir "$data/coordinator" --listen 127.0.0.1:0 \
  --http-listen 127.0.0.1:0 > "$data/out" 2> "$data/log" &
coordinator=$!
for _ in $(seq 100); do grep -q listening "$data/out" 2>/dev/null && break; sleep 0.1; done
grpc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["address"])' "$data/out")
http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_url"])' "$data/out")
export EASEL_HOST="$grpc" EASEL_API_TOKEN="$(cat "$data/coordinator/admin-token")"

mkdir -p "$data/base" && echo '{}' > "$data/base/model_index.json"
"$bin/cli/easel" models create easel/base --from-diffusers "$data/base" > /dev/null
"$bin/cli/easel" models create alice/bench > /dev/null
token=$("$bin/cli/easel" tokens create --role user --owner alice --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
version=$(curl -sf -H "Authorization: Bearer $token" "$http/v1/models/easel/base" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["latest_version"]["id"])')
python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1],"w").writestr("a.txt","x")' "$data/d.zip"
file_url=$(curl -sf -H "Authorization: Bearer $token" -F "content=@$data/d.zip" "$http/v1/files" |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["urls"]["get"])')
training=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"destination\": \"alice/bench\", \"input\": {\"input_images\": \"$file_url\"}}" \
  "$http/v1/models/easel/base/versions/$version/trainings" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "== $(nproc) cores; wrk -t2 -c$connections -d${seconds}s GET /v1/trainings/$training"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
  "$http/v1/trainings/$training"
echo "== coordinator peak RSS: $(grep VmHWM /proc/$coordinator/status | awk '{print $2/1024 " MiB"}')"
