/**
 * Setup file of every test file: the YAML reader loaded, as loadConfig loads it for a YAML file,
 * so that a test can hand parseConfig a config written in YAML.
 */
import { loadYamlReader } from "../../src/config/config.js";

await loadYamlReader();
