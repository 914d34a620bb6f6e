// Bundles a stage into dist/main.cjs. Packages listed in the stage's "dependencies" stay external and are
// installed in the runtime image; everything else (devDependencies, the shared libraries) is bundled in.
// "bundle": {"external": [...]} in package.json names modules that are required only on code paths that never
// run in Node (a library's browser-only branch): left out, not installed. "bundle": {"alias": {...}} puts a
// module of the stage (a path relative to the package) where a library imports another package.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const cwd = process.cwd();
const require = createRequire(join(cwd, "package.json"));
const esbuild = require("esbuild");
const pkg = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"));

await esbuild.build({
  entryPoints: [join(cwd, "src/main.ts")],
  outfile: join(cwd, "dist/main.cjs"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  external: [...Object.keys(pkg.dependencies ?? {}), ...(pkg.bundle?.external ?? [])],
  alias: Object.fromEntries(Object.entries(pkg.bundle?.alias ?? {}).map(([from, to]) => [from, join(cwd, to)])),
  legalComments: "none",
  logLevel: "warning",
});
