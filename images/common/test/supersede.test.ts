import { expect } from "chai";
import { InputError, TASK_IDENTITY, filterValue, tagEquals, taskTry, taskTryTags } from "../src/index.ts";

const KEY = TASK_IDENTITY.run_key_env;
const TRY = TASK_IDENTITY.try_number_env;
const env = (key?: string, tryNumber?: string) => ({
  ...(key !== undefined ? { [KEY]: key } : {}),
  ...(tryNumber !== undefined ? { [TRY]: tryNumber } : {}),
});

/** The InputError `fn` throws. */
function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InputError);
    return err as InputError;
  }
  throw new Error("expected an InputError");
}

describe("task try identity (the contract's task_identity)", () => {
  it("is absent when neither variable is set or both are empty", () => {
    expect(taskTry({})).to.equal(undefined);
    expect(taskTry(env("", ""))).to.equal(undefined);
    expect(taskTry(env(" ", undefined))).to.equal(undefined);
  });

  it("reads the run key, mapped or not, and the try number, and tags them under the contract's names", () => {
    const scheduled = "train_model/train/scheduled__2026-11-20T00:00:00+00:00";
    expect(taskTry(env(scheduled, "2"))).to.deep.equal({ runKey: scheduled, tryNumber: 2 });
    expect(taskTry(env(`${scheduled}/3`, " 1 "))).to.deep.equal({ runKey: `${scheduled}/3`, tryNumber: 1 });
    expect(taskTryTags({ runKey: scheduled, tryNumber: 12 })).to.deep.equal({
      [TASK_IDENTITY.run_key_tag]: scheduled,
      [TASK_IDENTITY.try_number_tag]: "12",
    });
  });

  it("refuses half an identity, naming the missing variable", () => {
    expect(inputError(() => taskTry(env("d/t/r", undefined)))).to.include({ file: TRY });
    expect(inputError(() => taskTry(env("", "1")))).to.include({ file: KEY });
  });

  it("refuses a garbled run key in one line naming the variable", () => {
    for (const bad of ["d/t", "d/t/r/x", "d/t/r/1/2", "d//r", "/t/r", "d/t/r/", "d/t/run id", "d/t/it's", 'd/t/"r"', "d/t/a\\b", "d/t/r\nx", "d/\tt/r", `d/t/${"r".repeat(1000)}`]) {
      const err = inputError(() => taskTry(env(bad, "1")));
      expect(err.file, bad).to.equal(KEY);
      expect(err.problem).to.match(/^expected <dag_id>\/<task_id>\/<run_id>\[\/<map_index>\]/);
      expect(err.message).to.not.include("\n");
    }
  });

  it("refuses a try number that is not a positive integer, naming the variable", () => {
    for (const bad of ["0", "-1", "1.5", "1e3", "two", "01", "0x2", "9999999999"]) {
      const err = inputError(() => taskTry(env("d/t/r", bad)));
      expect(err.file, bad).to.equal(TRY);
      expect(err.problem).to.equal(`expected a positive integer, got ${JSON.stringify(bad)}`);
    }
  });
});

describe("MLflow search filter literals", () => {
  it("quotes a value in the quotes it does not hold, since the server unescapes nothing", () => {
    expect(filterValue("a/b/scheduled__2026-11-20T00:00:00+00:00", "c")).to.equal("'a/b/scheduled__2026-11-20T00:00:00+00:00'");
    expect(filterValue("it's", "c")).to.equal(`"it's"`);
    expect(tagEquals("airflow_run_key", "k", "c")).to.equal("tags.`airflow_run_key` = 'k'");
  });

  it("refuses what one literal cannot hold, naming the context", () => {
    for (const bad of [`both ' and "`, "back\\slash", "line\nbreak"]) expect(inputError(() => filterValue(bad, "ctx")).file).to.equal("ctx");
    expect(inputError(() => tagEquals("a`b", "v", "ctx")).file).to.equal("ctx");
  });
});
