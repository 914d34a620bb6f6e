#!/usr/bin/env bash
# Writes .env on the first `make up`: copies .env.example, generates every secret, fixes HOST_DATA_DIR.
# An existing .env is never overwritten, so passwords stay stable across restarts.
set -euo pipefail
env_file=${1:?usage: make-env.sh <.env path> <data dir>}
data_dir=${2:?usage: make-env.sh <.env path> <data dir>}
example="$(dirname "$0")/.env.example"

mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd -P)
[ -f "$env_file" ] && exit 0

secret() { head -c "$1" /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'; }
fernet() { head -c 32 /dev/urandom | base64 | tr '+/' '-_'; }

tmp="$env_file.tmp.$$"
trap 'rm -f "$tmp"' EXIT
sed -e "s|^HOST_DATA_DIR=.*|HOST_DATA_DIR=$data_dir|" \
    -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(secret 24)|" \
    -e "s|^AIRFLOW_ADMIN_PASSWORD=.*|AIRFLOW_ADMIN_PASSWORD=$(secret 18)|" \
    -e "s|^AIRFLOW_FERNET_KEY=.*|AIRFLOW_FERNET_KEY=$(fernet)|" \
    -e "s|^AIRFLOW_API_SECRET_KEY=.*|AIRFLOW_API_SECRET_KEY=$(secret 32)|" \
    -e "s|^AIRFLOW_JWT_SECRET=.*|AIRFLOW_JWT_SECRET=$(secret 32)|" \
    "$example" >"$tmp"
chmod 600 "$tmp"
mv "$tmp" "$env_file"
echo "wrote $env_file (generated passwords; git-ignored)"
