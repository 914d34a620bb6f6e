#!/bin/bash
# Healthy when the engine answers /_ping through the proxy (the image has no HTTP client; bash has /dev/tcp).
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/2375
printf 'GET /_ping HTTP/1.0\r\nHost: docker-proxy\r\n\r\n' >&3
IFS= read -r status <&3
[[ $status == "HTTP/1.0 200"* || $status == "HTTP/1.1 200"* ]]
