/**
 * The single executable's main script (bin/build-sea.mjs bundles it with knit's light dependencies and
 * puts the heavy ones in chunks that src/sea/chunks.ts loads, then injects all of it into a Node 24
 * binary): what bin/knit.js does for the npm install, minus the code cache (the executable carries
 * V8's) and the source map.
 */
import { main } from '../cli.js';

// The Alibaba Cloud SDK calls url.parse(), which Node 24 warns about from code outside node_modules;
// inside the executable everything is, so the warning would reach every user of `knit alicloud …`.
process.noDeprecation = true;

void main(process.argv).then((code) => {
  process.exitCode = code;
});
