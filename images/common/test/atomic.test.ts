import { expect } from "chai";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, removePendingOutputs, replaceDirAtomic, writeFileAtomic, writeFilesAtomic, writeStreamsAtomic } from "../src/index.ts";
import { withTmp } from "./helpers.ts";

describe("atomic writes", () => {
  it("writes files and creates missing folders", () =>
    withTmp(async (dir) => {
      const a = join(dir, "x", "y", "a.csv");
      await writeFilesAtomic([{ path: a, data: "1\n" }, { path: join(dir, "b.csv"), data: "2\n" }]);
      expect(await readFile(a, "utf8")).to.equal("1\n");
      expect(await readFile(join(dir, "b.csv"), "utf8")).to.equal("2\n");
      expect((await readdir(join(dir, "x", "y"))).filter((f) => f.includes(".tmp-"))).to.deep.equal([]);
    }));

  it("replaces nothing and leaves no temp file when one of several writes fails", () =>
    withTmp(async (dir) => {
      const keep = join(dir, "a.csv");
      await writeFile(keep, "old\n");
      // A file where a folder should be makes the second write fail after the first temp file exists.
      await writeFile(join(dir, "blocker"), "");
      let caught: unknown;
      try {
        await writeFilesAtomic([{ path: keep, data: "new\n" }, { path: join(dir, "blocker", "b.csv"), data: "x" }]);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InputError);
      expect(await readFile(keep, "utf8")).to.equal("old\n");
      expect((await readdir(dir)).sort()).to.deep.equal(["a.csv", "blocker"]);
    }));

  it("streams several files piece by piece and renames them only at the end", () =>
    withTmp(async (dir) => {
      const a = join(dir, "out", "a.csv");
      const b = join(dir, "out", "b.csv");
      await writeStreamsAtomic([a, b], async ([wa, wb]) => {
        await wa?.write("a1\n");
        await wb?.write(Buffer.from("b1\n"));
        // Nothing is visible under the final names while the files are being written.
        expect((await readdir(join(dir, "out"))).filter((f) => !f.includes(".tmp-"))).to.deep.equal([]);
        await wa?.write("a2\n");
      });
      expect(await readFile(a, "utf8")).to.equal("a1\na2\n");
      expect(await readFile(b, "utf8")).to.equal("b1\n");
      expect((await readdir(join(dir, "out"))).sort()).to.deep.equal(["a.csv", "b.csv"]);
    }));

  it("keeps the previous files and leaves no temp file when filling the streams fails", () =>
    withTmp(async (dir) => {
      const a = join(dir, "a.csv");
      await writeFile(a, "old\n");
      let caught: unknown;
      try {
        await writeStreamsAtomic([a, join(dir, "b.csv")], async ([wa]) => {
          await wa?.write("new\n");
          throw new InputError("in.csv", "bad row");
        });
      } catch (err) {
        caught = err;
      }
      expect((caught as Error).message).to.equal("in.csv: bad row");
      expect(await readFile(a, "utf8")).to.equal("old\n");
      expect((await readdir(dir)).sort()).to.deep.equal(["a.csv"]);
    }));

  it("names the output when a stream cannot be opened, and removes the ones already open", () =>
    withTmp(async (dir) => {
      await writeFile(join(dir, "blocker"), "");
      let caught: unknown;
      let filled = false;
      try {
        await writeStreamsAtomic([join(dir, "a.csv"), join(dir, "blocker", "b.csv")], async () => {
          filled = true;
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InputError);
      expect((caught as Error).message).to.contain(join(dir, "blocker"));
      expect(filled).to.equal(false);
      expect((await readdir(dir)).sort()).to.deep.equal(["blocker"]);
    }));

  it("can remove every output still being written at once, as a stage stopped by a signal does", () =>
    withTmp(async (dir) => {
      await writeFile(join(dir, "done.csv"), "kept\n");
      let caught: unknown;
      try {
        await replaceDirAtomic(join(dir, "day"), async (tmp) => {
          await writeFile(join(tmp, "data.csv"), "x");
          await writeStreamsAtomic([join(dir, "a.csv")], async ([w]) => {
            await w?.write("x");
            expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).to.have.length(2);
            removePendingOutputs();
            expect(await readdir(dir)).to.deep.equal(["done.csv"]);
            throw new Error("stopped");
          });
        });
      } catch (err) {
        caught = err;
      }
      expect((caught as Error).message).to.equal("stopped");
      expect(await readdir(dir)).to.deep.equal(["done.csv"]);
    }));

  it("names the folder when the output folder is not writable", async function () {
    if (process.getuid?.() === 0) {
      // root ignores permission bits; a file in the way of the folder fails for everyone.
      await withTmp(async (dir) => {
        await writeFile(join(dir, "blocked"), "");
        let caught: unknown;
        try {
          await writeFileAtomic(join(dir, "blocked", "out.csv"), "x");
        } catch (err) {
          caught = err;
        }
        expect(caught).to.be.instanceOf(InputError);
        expect((caught as Error).message).to.contain(join(dir, "blocked"));
      });
      return;
    }
    await withTmp(async (dir) => {
      await chmod(dir, 0o555);
      let caught: unknown;
      try {
        await writeFileAtomic(join(dir, "out.csv"), "x");
      } catch (err) {
        caught = err;
      }
      await chmod(dir, 0o755);
      expect(caught).to.be.instanceOf(InputError);
    });
  });

  it("swaps a whole folder in, replacing the previous one", () =>
    withTmp(async (dir) => {
      const out = join(dir, "models", "2026-11-20");
      await replaceDirAtomic(out, async (tmp) => writeFile(join(tmp, "v1"), "1"));
      await replaceDirAtomic(out, async (tmp) => writeFile(join(tmp, "v2"), "2"));
      expect(await readdir(out)).to.deep.equal(["v2"]);
      expect(await readdir(join(dir, "models"))).to.deep.equal(["2026-11-20"]);
    }));

  it("keeps the previous folder when filling the new one fails", () =>
    withTmp(async (dir) => {
      const out = join(dir, "m");
      await replaceDirAtomic(out, async (tmp) => writeFile(join(tmp, "good"), "1"));
      let caught: unknown;
      try {
        await replaceDirAtomic(out, async (tmp) => {
          await writeFile(join(tmp, "half"), "1");
          throw new Error("boom");
        });
      } catch (err) {
        caught = err;
      }
      expect((caught as Error).message).to.equal("boom");
      expect(await readdir(out)).to.deep.equal(["good"]);
      expect(await readdir(dir)).to.deep.equal(["m"]);
    }));

  it("refuses to replace a file standing where the folder goes, and leaves it", () =>
    withTmp(async (dir) => {
      const out = join(dir, "raw", "2026-11-20");
      await mkdir(join(dir, "raw"));
      await writeFile(out, "not a folder\n");
      let filled = false;
      let caught: unknown;
      try {
        await replaceDirAtomic(out, async () => {
          filled = true;
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InputError);
      expect((caught as Error).message).to.equal(`${out}: exists and is not a folder, so it cannot be replaced`);
      expect(filled).to.equal(false);
      expect(await readFile(out, "utf8")).to.equal("not a folder\n");
      expect(await readdir(join(dir, "raw"))).to.deep.equal(["2026-11-20"]);
    }));
});
