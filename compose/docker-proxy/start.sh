#!/bin/sh
# Checks the proxy's settings, escapes them for the regular expressions of docker-proxy.cfg, runs HAProxy.
#   ALLOW_IMAGES       (required) the repositories containers may be created from, separated by spaces
#                      (any tag of them), e.g. "airflow-ml-dags/generate airflow-ml-dags/train"
#   ALLOW_BIND_SOURCE  (optional) the one host folder containers may bind (the data folder); unset: none
#   ALLOW_VOLUME       (optional) the one named volume containers may mount (the data volume); unset: none
# -f: the image list is split on spaces, and never globbed.
set -euf

fail() {
  echo "docker-proxy: $*" >&2
  exit 2
}

images=${ALLOW_IMAGES:-}
source=${ALLOW_BIND_SOURCE:-}
volume=${ALLOW_VOLUME:-}
[ -n "$(printf '%s' "$images" | tr -d ' ')" ] \
  || fail "ALLOW_IMAGES is not set (the task images' repositories, e.g. airflow-ml-dags/generate)"
alternatives=
for image in $images; do
  # Only characters that mean nothing to a regular expression but '.', which is escaped below.
  printf '%s' "$image" | grep -Eqx '[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?' \
    || fail "ALLOW_IMAGES: expected image repositories such as airflow-ml-dags/generate, got '$image'"
  alternatives="${alternatives:+$alternatives|}$image"
done
if [ -n "$source" ]; then
  printf '%s' "$source" | grep -Eqx '/[A-Za-z0-9._/-]*' \
    || fail "ALLOW_BIND_SOURCE: expected an absolute path of letters, digits and . _ - /, got '$source'"
fi

if [ -n "$volume" ]; then
  # Docker's rule for volume names, which also keeps it apart from a bind source (no '/').
  printf '%s' "$volume" | grep -Eqx '[a-zA-Z0-9][a-zA-Z0-9_.-]+' \
    || fail "ALLOW_VOLUME: expected a Docker volume name of letters, digits and _ . -, got '$volume'"
fi

ALLOW_IMAGES_RE=$(printf '%s' "$alternatives" | sed 's/\./\\./g')
# The two as alternatives; neither set: an empty one, so that no mount source but "" passes.
ALLOW_MOUNT_SOURCES_RE=$(printf '%s' "$source${source:+${volume:+|}}$volume" | sed 's/\./\\./g')
export ALLOW_IMAGES_RE ALLOW_MOUNT_SOURCES_RE
exec haproxy -db -f /etc/haproxy/docker-proxy.cfg
