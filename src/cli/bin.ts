#!/usr/bin/env node
import { main, reportError } from "./main.js";

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = reportError(error, argv.includes("--verbose"));
  },
);
