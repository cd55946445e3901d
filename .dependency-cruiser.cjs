/**
 * The layering rules of src/, checked by `npm run lint` (depcruise): no import circles, type-only
 * ones included; the domain imports nothing of ours; only the AWS adapters touch the SDK; the
 * core decides without knowing the adapters, the entry points or the command line.
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "A circle makes a module's parts import each other: move the shared vocabulary into a module of its own.",
      from: { path: "^src" },
      to: { circular: true },
    },
    {
      name: "domain-imports-nothing-of-ours",
      severity: "error",
      comment: "src/domain holds the vocabulary everything else uses; it depends on nothing of the project.",
      from: { path: "^src/domain/" },
      to: { path: "^src/", pathNot: "^src/domain/" },
    },
    {
      name: "sdk-only-in-aws",
      severity: "error",
      comment: "The AWS SDK is used by the adapters in src/aws only; the core sees ports.",
      from: { path: "^src/", pathNot: "^src/aws/" },
      to: { path: "@aws-sdk/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "core-knows-no-adapter",
      severity: "error",
      comment: "The core decides through its ports; it never imports an adapter, a handler or the CLI.",
      from: { path: "^src/(domain|ports|rules|resilience|config|policy|evidence|sweep|notify)/" },
      to: { path: "^src/(aws|handlers|cli|report|app)" },
    },
    // The core's folders import downward only: domain < ports, rules, resilience < config < policy;
    // evidence sees the ports; the sweep sees all of these; notify sees the sweep's vocabulary.
    ...[
      ["ports", "domain|ports"],
      ["rules", "domain|rules"],
      ["resilience", "domain|resilience"],
      ["config", "domain|rules|config"],
      ["policy", "domain|ports|rules|config|policy"],
      ["evidence", "domain|ports|evidence"],
      ["sweep", "domain|ports|rules|resilience|config|policy|evidence|sweep|fencing-settings"],
      ["notify", "domain|ports|sweep|notify"],
    ].map(([folder, allowed]) => ({
      name: `${folder}-imports-downward`,
      severity: "error",
      comment: `src/${folder} imports only from src/(${allowed}).`,
      from: { path: `^src/${folder}/` },
      to: { path: "^src/", pathNot: `^src/(${allowed})[/.]` },
    })),
    {
      name: "no-devtools-in-src",
      severity: "error",
      comment:
        "The local stack is apart from the product: nothing in src/ imports devtools/ (the CLI loads the demo with a dynamic import, only when asked).",
      from: { path: "^src/" },
      to: { path: "^devtools/", dependencyTypesNot: ["dynamic-import"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    parser: "swc",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
