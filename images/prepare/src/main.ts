import { runCli } from "@airflow-ml-dags/common";
import { prepareCommand } from "./prepare.ts";
import { splitCommand } from "./split.ts";

// No top-level await: the bundle is CommonJS. runCli catches every error and sets the exit code.
void runCli("prepare", { prepare: prepareCommand, split: splitCommand });
