import { readFileSync } from "node:fs";
import { expect } from "chai";
import {
  CONTRACT,
  FEATURES,
  GATE_METRICS,
  InputError,
  UsageError,
  choiceOption,
  cliOptions,
  contractOption,
  dataPaths,
  groupOptions,
  lastDays,
  layoutPath,
  lowerIsBetter,
  numberOption,
  optionProblem,
  parseModelUri,
  stageOptions,
  stringOption,
  type OptionName,
} from "../src/index.ts";

/** The file as written, read apart from the bundled import: the module must not change what it says. */
const onDisk = JSON.parse(readFileSync(new URL("../../../contract/pipeline.json", import.meta.url), "utf8"));

describe("the pipeline contract, as the images read it", () => {
  it("is the file in contract/", () => {
    expect(CONTRACT).to.deep.equal(onDisk);
  });

  it("gives the raw schema's features in order", () => {
    expect(FEATURES).to.deep.equal(onDisk.raw_schema.features.map((f: { name: string }) => f.name));
  });

  for (const example of onDisk.window.examples as { ds: string; days: number; dates: string[] }[]) {
    it(`follows the window's example ${example.ds} x ${example.days}`, () => {
      expect(lastDays(example.ds, example.days)).to.deep.equal(example.dates);
    });
  }

  it("spells every path of the stages from the layout", () => {
    const p = dataPaths("/data", "2026-11-20");
    expect(p.data).to.equal("/data/raw/2026-11-20/data.csv");
    const expected: Record<string, string> = {
      rawDir: "raw_dir", data: "raw_data", target: "raw_target", processedDir: "processed_dir", trainData: "train_data",
      train: "train", val: "val", modelDir: "model_dir", predictionsDir: "predictions_dir", predictions: "predictions",
      predictionsManifest: "predictions_manifest",
    };
    for (const [field, key] of Object.entries(expected)) {
      expect(p[field as keyof typeof p], field).to.equal(`/data/${(onDisk.layout[key] as string).replace("{ds}", "2026-11-20")}`);
      expect(layoutPath("/data", key as never, "2026-11-20")).to.equal(p[field as keyof typeof p]);
    }
  });

  it("parses the model references of its examples and refuses the malformed ones", () => {
    const { examples } = onDisk.model_ref;
    for (const ref of examples.by_alias) expect(parseModelUri(ref)).to.have.property("alias");
    for (const ref of examples.by_version) expect(parseModelUri(ref)).to.have.property("version");
    for (const ref of examples.malformed) expect(() => parseModelUri(ref), ref).to.throw(InputError);
  });

  it("gives each stage the options of its groups, with the contract's help and defaults", () => {
    expect(stageOptions("train")).to.deep.equal(Object.keys(onDisk.options.hyperparameters));
    expect(stageOptions("validate")).to.deep.equal([
      ...Object.keys(onDisk.options.gate),
      ...Object.keys(onDisk.options.scoring),
      ...Object.keys(onDisk.options.approval),
    ]);
    expect(stageOptions("split")).to.deep.equal([]);
    const train = cliOptions("train");
    expect(Object.keys(train)).to.include.members(["family", "learning-rate", "batch-size", "max-depth", "min-samples"]);
    expect(train["learning-rate"]).to.deep.equal({ help: "Adam learning rate (mlp, logreg)", default: "0.01" });
    expect(train.family?.help).to.equal("model family: mlp, logreg, tree");
  });

  it("spells the gate metrics from gate_metrics, log_loss the only one better lower", () => {
    expect(contractOption("gate_metric").enum).to.deep.equal(Object.keys(onDisk.gate_metrics));
    expect(GATE_METRICS.filter(lowerIsBetter)).to.deep.equal(["log_loss"]);
    expect(() => choiceOption("gate_metric", "auc")).to.throw(UsageError, /--gate-metric: expected one of roc_auc, /);
  });

  describe("string options: the contract's pattern or choices decide", () => {
    const strings = (Object.keys(onDisk.options) as (keyof typeof onDisk.options)[])
      .flatMap((g) => groupOptions(g as never) as OptionName[])
      .filter((n) => contractOption(n).type === "string");

    it("every string option takes its default", () => {
      expect(strings).to.include.members(["family", "gate_metric", "drift_from"]);
      for (const name of strings) expect(stringOption(name, contractOption(name).default as string), name).to.equal(contractOption(name).default);
    });

    it("a pattern option takes what its pattern matches, the empty text included, and nothing else", () => {
      expect(contractOption("drift_from").pattern).to.equal(onDisk.options.drift.drift_from.pattern);
      expect(stringOption("drift_from", "")).to.equal("");
      expect(stringOption("drift_from", "2026-11-20")).to.equal("2026-11-20");
      for (const bad of ["2026-1-20", "20261120", "2026-11-20x", " 2026-11-20", "2026-11-20\n", "next week", "２０２６-11-20"]) {
        expect(() => stringOption("drift_from", bad), bad).to.throw(
          UsageError,
          `--drift-from: expected a value matching ^([0-9]{4}-[0-9]{2}-[0-9]{2})?$, got "${bad}"`,
        );
      }
    });

    it("a choice option takes its choices, as choiceOption does; a numeric option is no string option", () => {
      expect(stringOption("family", "tree")).to.equal("tree");
      expect(() => stringOption("gate_metric", "auc")).to.throw(UsageError, /--gate-metric: expected one of roc_auc, /);
      expect(() => stringOption("drift_size", "1")).to.throw(/drift_size is a number option, not a string/);
    });
  });

  describe("bounds: every numeric option takes its default and its bounds, and refuses just beyond them", () => {
    const numeric = (Object.keys(onDisk.options) as (keyof typeof onDisk.options)[])
      .flatMap((g) => groupOptions(g as never) as OptionName[])
      .filter((n) => contractOption(n).type !== "string");
    for (const name of numeric) {
      it(name, () => {
        const o = contractOption(name);
        expect(optionProblem(name, o.default as number)).to.equal(undefined);
        if (o.minimum !== undefined) {
          expect(optionProblem(name, o.minimum)).to.equal(undefined);
          expect(optionProblem(name, o.minimum - 1)).to.match(/in \[/);
        }
        if (o.exclusiveMinimum !== undefined) expect(optionProblem(name, o.exclusiveMinimum)).to.match(/in \(/);
        if (o.maximum !== undefined) {
          expect(optionProblem(name, o.maximum)).to.equal(undefined);
          expect(optionProblem(name, o.maximum + 1)).to.match(/\], got/);
        }
        if (o.type === "integer") expect(optionProblem(name, 1.5)).to.match(/expected an integer, got 1.5/);
        expect(() => numberOption(name, "many")).to.throw(UsageError, new RegExp(`expected an? (integer|number), got "many"`));
      });
    }
  });
});
