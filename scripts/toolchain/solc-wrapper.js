#!/usr/bin/env node
// A native-`solc`-compatible command line over solc-js, for py-solc-x, Brownie,
// Slither (crytic-compile) and Forge. It answers `--version`, `--help` and
// `--standard-json` (input on stdin or as a file argument). Imports are read
// from the filesystem, but only below the working directory, `--base-path`,
// `--include-path` and `--allow-paths` directories.
//
// Output is written synchronously so that a pipe never cuts it short.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

function writeAll(fd, text) {
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
    }
  }
}

function versionText() {
  // Same shape as the native compiler so that version regexes match.
  return `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`;
}

function parseArgs(argv) {
  const opts = { roots: [process.cwd()], standardJson: false, file: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
      i += 1;
      return argv[i];
    };
    if (a === "--version") opts.version = true;
    else if (a === "--help") opts.help = true;
    else if (a === "--standard-json") opts.standardJson = true;
    else if (a.startsWith("--allow-paths")) takeValue().split(",").forEach((p) => p && opts.roots.push(path.resolve(p)));
    else if (a.startsWith("--base-path") || a.startsWith("--include-path")) opts.roots.push(path.resolve(takeValue()));
    else if (a === "-" || a.startsWith("--")) continue; // flags with no meaning for standard JSON
    else opts.file = a;
  }
  const nm = path.resolve(__dirname, "..", "..", "node_modules");
  opts.roots.push(nm);
  return opts;
}

function makeImportCallback(roots) {
  const inside = (file) => roots.some((r) => file === r || file.startsWith(r + path.sep));
  return (unitName) => {
    const candidates = path.isAbsolute(unitName)
      ? [unitName]
      : roots.map((r) => path.resolve(r, unitName));
    for (const c of candidates) {
      const real = path.resolve(c);
      if (!inside(real)) continue;
      try {
        return { contents: fs.readFileSync(real, "utf8") };
      } catch (_) {
        /* try the next root */
      }
    }
    return { error: `File not found inside allowed paths: ${unitName}` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    writeAll(1, versionText());
    return 0;
  }
  if (opts.help) {
    writeAll(1, versionText() + "\nOptions:\n  --version\n  --help\n  --standard-json\n  --allow-paths\n  --base-path\n  --include-path\n");
    return 0;
  }
  if (!opts.standardJson) {
    writeAll(2, "solc-wrapper: only --standard-json, --version and --help are supported\n");
    return 1;
  }
  const input = fs.readFileSync(opts.file || 0, "utf8");
  const output = solc.compile(input, { import: makeImportCallback(opts.roots) });
  writeAll(1, output);
  return 0;
}

process.exitCode = main();
