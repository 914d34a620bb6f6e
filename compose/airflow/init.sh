#!/bin/bash
# One-shot start-up of the stack: database schema, the UI user's password, the model_ref Variable.
set -euo pipefail
airflow db migrate
# The simple auth manager reads passwords from this file; the password itself was generated into .env.
printf '{"%s": "%s"}\n' "${AIRFLOW_ADMIN_USER:-admin}" "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}" \
  >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
# Only a first start sets model_ref: a choice made later in the UI must survive restarts.
if ! airflow variables get model_ref >/dev/null 2>&1; then
  airflow variables set model_ref "${MODEL_REF_DEFAULT:?MODEL_REF_DEFAULT is not set}" \
    --description "Model that predict uses: a folder under the data folder, or models:/<name>@<alias>"
fi
echo "init done"
