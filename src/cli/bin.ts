#!/usr/bin/env node
import { invoke } from "./main.js";

invoke(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
