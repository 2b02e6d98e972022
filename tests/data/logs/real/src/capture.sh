#!/usr/bin/env bash
# Real builds on the local daemon whose output the corpus logs are made from (run once; outputs kept).
# BuildKit: Engine API streams (POST /build?version=2, the docker CLI here has no buildx);
# classic: the docker CLI's own text (DOCKER_BUILDKIT=0).
set -euo pipefail
cd "$(dirname "$0")"
api() {  # api CONTEXT QUERY OUT
  tar -C "$1" -c . | curl -sS --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/x-tar' \
    --data-binary @- "http://localhost/v1.41/build?$2" >"$3"
}
nonce=$(date +%s%N)
echo 'main v1' >app/src/main.c
api app "version=2&nocache=1&t=cacheprof-corpus-app:1&buildargs=%7B%22NONCE%22%3A%22$nonce%22%7D" bk-app-cold.jsonl
echo "main v2 $nonce" >app/src/main.c
api app "version=2&t=cacheprof-corpus-app:2&buildargs=%7B%22NONCE%22%3A%22$nonce%22%7D" bk-app-edit.jsonl
api app "version=2&t=cacheprof-corpus-app:3&buildargs=%7B%22NONCE%22%3A%22$nonce%22%7D" bk-app-warm.jsonl
api fail "version=2&nocache=1&t=cacheprof-corpus-fail:1" bk-fail.jsonl || true
echo 'main v1' >app/src/main.c
DOCKER_BUILDKIT=0 docker build --no-cache --build-arg NONCE=$nonce -t cacheprof-corpus-app:c1 app >classic-app-cold.txt 2>&1
echo "main v3 $nonce" >app/src/main.c
DOCKER_BUILDKIT=0 docker build --build-arg NONCE=$nonce -t cacheprof-corpus-app:c2 app >classic-app-edit.txt 2>&1
DOCKER_BUILDKIT=0 docker build --no-cache -t cacheprof-corpus-fail:c1 fail >classic-fail.txt 2>&1 || true
api app "nocache=1&t=cacheprof-corpus-app:c3&buildargs=%7B%22NONCE%22%3A%22$nonce%22%7D" classic-app-api.jsonl
echo 'main v1' >app/src/main.c
