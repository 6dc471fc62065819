// Preloaded with --require: prints every module id knit requires to stderr ("require: <id>"), so a
// test can tell whether a heavy dependency was loaded.
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  process.stderr.write(`require: ${request}\n`);
  return load.call(this, request, ...rest);
};
