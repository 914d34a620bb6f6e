#!/bin/bash
# One-shot start-up of the stack: database schema, the UI user's password.
set -euo pipefail
airflow db migrate
# The simple auth manager reads passwords from this file; the password itself was generated into .env.
printf '{"%s": "%s"}\n' "${AIRFLOW_ADMIN_USER:-admin}" "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}" \
  >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
# model_ref is left unset: predict then uses the registry's production model. A value set in the UI stays.
# Earlier versions of this script set it to models/latest, a folder nothing writes, which would keep predict
# waiting for a model that never comes: that one value is removed.
if [ "$(airflow variables get model_ref 2>/dev/null || true)" = "models/latest" ]; then
  airflow variables delete model_ref
  echo "removed model_ref=models/latest (the former default): predict uses the production alias"
fi
echo "init done"
