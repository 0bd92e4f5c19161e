#!/usr/bin/env bash
# The main job on one machine: install, build, start a coordinator and a CPU worker on
# loopback, create the tiny base model and the example dataset, train a LoRA with
# `easel train --follow`, and print the published version, its trigger token and weights file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash deploy/build.sh
bin="$root/build"
data="$root/easel-data"
port="${EASEL_PORT:-7500}"
export EASEL_HOST="127.0.0.1:$port"
http_url="http://127.0.0.1:$((port + 1))"
mkdir -p "$data"
easel() { "$bin/cli/easel" "$@"; }

echo "== starting easel-coordinator on $EASEL_HOST (data in $data/coordinator)"
"$bin/coordinator/easel-coordinator" --data-dir "$data/coordinator" --listen "$EASEL_HOST" \
  --http-listen "${http_url#http://}" > "$data/coordinator.out" 2> "$data/coordinator.log" &
coordinator=$!
worker=""
cleanup() {
  [ -n "$worker" ] && kill "$worker" 2>/dev/null && wait "$worker" 2>/dev/null
  kill "$coordinator" 2>/dev/null && wait "$coordinator" 2>/dev/null
  true
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  grep -q '"listening"' "$data/coordinator.out" 2>/dev/null && break
  kill -0 "$coordinator" 2>/dev/null || { cat "$data/coordinator.log"; exit 1; }
  sleep 0.1
done
grep -q '"listening"' "$data/coordinator.out" || { echo "coordinator did not start"; exit 1; }

# Every call needs a token. The coordinator wrote the first admin token into its data dir; the
# admin makes a worker token and a user token for the owner "demo" (once; they are kept).
admin_token=$(cat "$data/coordinator/admin-token")
if [ ! -s "$data/worker.token" ] ||
   EASEL_API_TOKEN=$(cat "$data/worker.token") easel models list 2>&1 | grep -q "not valid"; then
  EASEL_API_TOKEN=$admin_token easel tokens create --role worker --description quickstart-worker \
    > "$data/worker.token"
fi
if ! EASEL_API_TOKEN=$(cat "$data/demo.token" 2>/dev/null) easel models list > /dev/null 2>&1; then
  EASEL_API_TOKEN=$admin_token easel tokens create --owner demo --description quickstart \
    > "$data/demo.token"
fi

echo "== starting easel-worker (CPU)"
"$bin/trainer/worker/easel-worker" --coordinator "$EASEL_HOST" --work-dir "$data/work" \
  --trainer-bin "$bin/trainer/easel-trainer" --preprocess-bin "$bin/preprocess/easel-preprocess" \
  --token-file "$data/worker.token" 2> "$data/worker.log" &
worker=$!

echo "== creating the tiny base model and the example dataset"
if [ ! -f "$data/tiny-model/model_index.json" ]; then
  "$bin/trainer/easel-trainer" init-model --preset tiny --output "$data/tiny-model" --seed 1 > /dev/null
fi
EASEL_API_TOKEN=$admin_token easel models create easel/tiny --from-diffusers "$data/tiny-model" \
  --description "tiny SD-family preset"
/usr/bin/python3 tools/make_example_dataset.py "$data/example-dataset.zip"

echo "== training, as the owner demo"
export EASEL_API_TOKEN=$(cat "$data/demo.token")
easel train easel/tiny -d demo/tok-lora --create-destination \
  input_images=@"$data/example-dataset.zip" max_train_steps=30 lora_rank=4 learning_rate=1e-3 \
  --follow

easel weights download demo/tok-lora -o "$data/tok-lora.safetensors" > /dev/null
versions=$(easel versions list demo/tok-lora)
latest=${versions%%$'\n'*}
echo
echo "Published version: $latest"
echo "Trigger token:     TOK   (prompt: \"a photo of TOK\")"
echo "Weights file:      $data/tok-lora.safetensors"
echo "HTTP API:          $http_url/v1 (Replicate's clients work with this base URL)"
