import { runCli } from "@airflow-ml-dags/common";
import { promoteCommand, rejectCommand, validateCommand } from "./command.ts";

// No top-level await: the bundle is CommonJS. runCli catches every error and sets the exit code.
void runCli("validate", { validate: validateCommand, promote: promoteCommand, reject: rejectCommand });
