// The optional native add-ons that dependencies try to load (ws's bufferutil and utf-8-validate,
// debug's supports-color) are absent from the single executable: each require of them finds this stub,
// which fails as a missing module does, so the dependency takes its pure-JavaScript path.
const err = new Error('optional module not bundled into the knit executable');
err.code = 'MODULE_NOT_FOUND';
throw err;
