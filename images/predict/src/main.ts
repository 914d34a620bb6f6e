import { runCli } from "@airflow-ml-dags/common";
import { predictCommand } from "./predict.ts";

// runCli never rejects: it reports every failure itself and sets the exit code.
void runCli("predict", predictCommand);
