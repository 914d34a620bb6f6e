import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readTargetRows, readTargets, rng } from "../src/index.ts";
import { withTmp } from "./helpers.ts";

const put = (path: string, text: string) => writeFile(path, text);

/** What readTargets (a map, in the plainest way) gives for a file, or the message it refuses it with. */
const shared = (path: string) =>
  readTargets(path).then(
    (m) => [...m],
    (e: Error) => e.message,
  );
const local = (path: string) =>
  readTargetRows(path).then(
    (t) => t.ids.map((id, i) => [id, t.labels[i]]),
    (e: Error) => e.message,
  );

describe("readTargetRows", () => {
  it("gives readTargets' rows and messages, in order or not, on random files with repeats", () =>
    withTmp(async (dir) => {
      const r = rng("targets");
      const path = join(dir, "target.csv");
      let refused = 0;
      for (let trial = 0; trial < 300; trial++) {
        const n = 1 + Math.floor(r() * 12);
        const ordered = r() < 0.5;
        const lines = ["id,target"];
        for (let i = 0; i < n; i++) {
          // Ordered files repeat an id now and then; the others draw from few ids, so repeats are common.
          const k = ordered ? (r() < 0.1 ? Math.max(0, i - 1 - Math.floor(r() * 3)) : i) : Math.floor(r() * n * 1.5);
          const label = r() < 0.03 ? "2" : r() < 0.5 ? "1" : " 0";
          lines.push(`${r() < 0.02 ? " " : `id-${k}`},${label}`);
        }
        await put(path, `${lines.join("\n")}\n`);
        const want = await shared(path);
        expect(await local(path), lines.join(" | ")).to.deep.equal(want);
        if (typeof want === "string") refused++;
      }
      // The comparison covered refusals as well as files read.
      expect(refused).to.be.within(30, 270);
    }));

  it("names both rows of a repeat found after the ids stopped being in order", () =>
    withTmp(async (dir) => {
      const path = join(dir, "target.csv");
      await put(path, "id,target\na,0\nc,1\nb,0\nd,1\nc,0\n");
      expect(await local(path)).to.equal(`${path}: duplicate id "c" in rows 3 and 6`);
    }));
});

