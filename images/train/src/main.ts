import { runCli } from "@airflow-ml-dags/common";
import { trainCommand } from "./train.ts";

// runCli never rejects: it reports every failure itself and sets the exit code.
void runCli("train", trainCommand);
