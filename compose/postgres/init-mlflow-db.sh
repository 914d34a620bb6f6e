#!/bin/bash
# Runs once, on the first start of an empty Postgres volume: MLflow gets a database of its own.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -c "CREATE DATABASE mlflow"
