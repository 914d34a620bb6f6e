import { runCli } from "@airflow-ml-dags/common";
import { monitorCommand } from "./command.ts";

// runCli never rejects: it reports every failure itself and sets the exit code.
void runCli("monitor", monitorCommand);
