// Bundles a stage (run in its folder: `node ../common/bundle.mjs`) into dist/, what its image holds in /app:
// main.cjs, the stage's package.json and, only if "bundle.runtime" names packages, node_modules/ with them.
//
// Every library is bundled, and resolved from the STAGE's node_modules, for the stage's own code and for the
// shared libraries alike: images/common and images/model declare the libraries they import as peerDependencies and
// each stage lists them in its "dependencies", so an image holds one copy of each library, the version of the
// stage's lockfile. The build fails when the stage's code or a shared library imports a package the stage's
// "dependencies" do not list, or when a package would be in the image twice: bundled from two folders that hold
// one version, or a package the stage lists (npm's nested copies of other versions are only reported), or
// bundled and in node_modules as well.
//
// "bundle" in package.json:
//   "runtime":  ["pkg"]          packages loaded from node_modules at run time (a native addon, say): left out of
//                                the bundle and copied with their dependencies into dist/node_modules. Each one
//                                must also be in "dependencies".
//   "external": ["module"]       modules required only on code paths that never run in Node (a library's
//                                browser-only branch): left out, not installed.
//   "alias":    {"pkg": "path"}  puts a module of the stage (a path relative to the package) where a library
//                                imports another package.
// `--metafile=<file>` also writes esbuild's metafile (every input file and its bytes in the bundle).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";

const cwd = process.cwd();
const out = join(cwd, "dist");
// esbuild: the stage's devDependency in a checkout; in the build base (images/base), /src/images/node_modules.
const esbuild = createRequire(join(cwd, "package.json"))("esbuild");
const pkg = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"));
const dependencies = Object.keys(pkg.dependencies ?? {});
const runtime = pkg.bundle?.runtime ?? [];
const leftOut = pkg.bundle?.external ?? [];
const alias = Object.fromEntries(Object.entries(pkg.bundle?.alias ?? {}).map(([from, to]) => [from, join(cwd, to)]));
const metafileArg = process.argv.slice(2).find((a) => a.startsWith("--metafile="));

const fail = (message) => {
  console.error(`bundle ${pkg.name}: ${message}`);
  process.exit(1);
};
for (const name of runtime) if (!dependencies.includes(name)) fail(`bundle.runtime "${name}" is not in "dependencies"`);

/** "@scope/name/sub/path" → "@scope/name"; "name/sub" → "name". */
const packageName = (spec) => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/");
const isBuiltin = (spec) => spec.startsWith("node:") || builtinModules.includes(packageName(spec));
const declared = new Set([...dependencies, ...leftOut, ...Object.keys(alias)]);
const fromHere = Symbol("resolved by stage-resolution");

/** Bare imports of our own code (the stage's and the shared libraries') resolve from the stage's folder. */
const stageResolution = {
  name: "stage-resolution",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      // A library's own imports follow Node's rules from where it sits in the stage's node_modules.
      if (args.pluginData === fromHere || isBuiltin(args.path) || args.importer.split(sep).includes("node_modules")) {
        return undefined;
      }
      const name = packageName(args.path);
      if (!declared.has(name)) {
        return { errors: [{ text: `"${name}" (imported by ${relative(cwd, args.importer)}) is not in ${pkg.name}'s "dependencies"` }] };
      }
      const r = await build.resolve(args.path, { kind: args.kind, resolveDir: cwd, importer: args.importer, pluginData: fromHere });
      if (r.errors.length > 0) return { errors: r.errors };
      return { path: r.path, external: r.external, namespace: r.namespace, sideEffects: r.sideEffects, suffix: r.suffix };
    });
  },
};

rmSync(out, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: [join(cwd, "src/main.ts")],
  outfile: join(out, "main.cjs"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  external: [...runtime, ...leftOut],
  alias,
  plugins: [stageResolution],
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
}).catch(() => process.exit(1)); // esbuild has printed the errors

/** Package folder → name, for a path relative to the stage: "node_modules/a/node_modules/@s/b/x.js" → "@s/b". */
function packageOf(path) {
  const m = path.match(/^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//);
  return m ? { dir: m[1], name: m[2] } : undefined;
}

// Copies each runtime package, and what it requires, where Node's lookup from /app/main.cjs finds it.
const copied = new Map();
function copyPackage(name, fromDir, optional) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const found = join(dir, "node_modules", name);
    if (existsSync(join(found, "package.json"))) {
      const rel = relative(cwd, found).split(sep).join("/");
      if (copied.has(rel)) return;
      copied.set(rel, name);
      const nested = join(found, "node_modules");
      cpSync(found, join(out, rel), { recursive: true, dereference: true, filter: (src) => !src.startsWith(nested) });
      const p = JSON.parse(readFileSync(join(found, "package.json"), "utf8"));
      for (const d of Object.keys(p.dependencies ?? {})) copyPackage(d, found, false);
      for (const d of Object.keys({ ...p.optionalDependencies, ...p.peerDependencies })) copyPackage(d, found, true);
      return;
    }
    if (dir === cwd || dir === dirname(dir)) break;
  }
  if (!optional) fail(`runtime package "${name}" (needed from ${relative(cwd, fromDir) || "the stage"}) is not installed`);
}
for (const name of runtime) copyPackage(name, cwd, false);

// One copy of each library in the image: each package bundled from one folder, and not also in node_modules.
// Two folders of one package are an error when they hold the same version or the package is one the stage
// lists; different versions that npm nested for different dependents are only reported.
const folders = new Map();
const addFolder = (name, dir) => folders.set(name, new Set([...(folders.get(name) ?? []), dir]));
for (const input of Object.keys(result.metafile.inputs)) {
  const p = packageOf(input);
  if (p) addFolder(p.name, p.dir);
}
const bundled = new Set(folders.keys());
for (const [rel, name] of copied) addFolder(name, rel);
const versionOf = (dir) => JSON.parse(readFileSync(join(cwd, dir, "package.json"), "utf8")).version;
const errors = [];
for (const [name, dirs] of folders) {
  if (dirs.size < 2) continue;
  const versions = [...dirs].map((d) => `${d}@${versionOf(d)}`);
  const sameVersion = new Set([...dirs].map(versionOf)).size < dirs.size;
  const bothWays = bundled.has(name) && [...copied.values()].includes(name);
  if (sameVersion || bothWays || declared.has(name)) errors.push(`${name} (${versions.join(", ")})`);
  else console.warn(`bundle ${pkg.name}: two versions of ${name}, nested by npm: ${versions.join(", ")}`);
}
if (errors.length > 0) fail(`more than one copy of ${errors.join("; ")}`);

mkdirSync(out, { recursive: true });
cpSync(join(cwd, "package.json"), join(out, "package.json"));
if (metafileArg) writeFileSync(metafileArg.slice("--metafile=".length), JSON.stringify(result.metafile));
