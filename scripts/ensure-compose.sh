#!/usr/bin/env bash
# The container tests validate compose.yaml with the Compose CLI (`docker compose config` needs no
# Docker engine). Install Debian's docker-compose when neither `docker compose` nor `docker-compose`
# is there; without either, tests/bot/test_container.py fails and says so.
set -u
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "installing docker-compose (Debian) for the compose.yaml check" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
command -v docker-compose >/dev/null 2>&1 || echo "no Compose CLI: tests/bot/test_container.py will fail" >&2
exit 0
