import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("./fixtures/cli.ts", import.meta.url));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", fixture, ...args], { encoding: "utf8" });
  const stderr = r.stderr.trim().split("\n").filter(Boolean);
  return { code: r.status, stdout: r.stdout, stderr };
}

describe("runCli", () => {
  it("prints one JSON result as the only stdout line and JSON logs on stderr", () => {
    const r = run("--rows", "5");
    expect(r.code).to.equal(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).to.have.length(1);
    expect(JSON.parse(lines[0] as string)).to.include({ status: "ok", stage: "demo", rows: 5 });
    for (const line of r.stderr) expect(() => JSON.parse(line), line).not.to.throw();
    expect(r.stderr.map((l) => JSON.parse(l).msg)).to.include("a library printing to stdout");
  });

  it("exits 1 with one error line naming the file on bad input, and prints no result", () => {
    const r = run("--fail", "input");
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal("");
    const last = JSON.parse(r.stderr.at(-1) as string);
    expect(last).to.include({ level: "error", msg: "/data/raw/x.csv: bad things", file: "/data/raw/x.csv" });
    expect(r.stderr.filter((l) => JSON.parse(l).level === "error")).to.have.length(1);
  });

  it("exits 1 on an unexpected error, still in one line", () => {
    const r = run("--fail", "crash");
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stderr.at(-1) as string)).to.include({ level: "error", msg: "unexpected" });
  });

  it("exits 2 on a bad option value or an unknown option", () => {
    const bad = run("--rows", "zero");
    expect(bad.code).to.equal(2);
    expect(JSON.parse(bad.stderr.at(-1) as string).msg).to.contain('--rows: expected an integer, got "zero"');
    expect(run("--rows", "0").code).to.equal(2);
    const unknown = run("--nope");
    expect(unknown.code).to.equal(2);
    expect(JSON.parse(unknown.stderr.at(-1) as string).msg).to.contain("--nope");
  });

  it("prints help with the options and their defaults", () => {
    const r = run("--help");
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain("Usage: demo [options]");
    expect(r.stdout).to.match(/--rows <value>\s+rows \(default: 3\)/);
  });
});
