/**
 * An error the user can fix: bad input data, a missing file, a wrong option.
 * Its message is the one line the CLI prints, so it always names the file (or option) and the problem.
 */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "InputError";
  }
}

/** A wrong command line: exit code 2, like most Unix tools. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
