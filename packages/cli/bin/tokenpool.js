#!/usr/bin/env node
// The `tokenpool` command: the compiled CLI (npm run build writes dist/).
require('../dist/main.js').main(process.argv.slice(2));
