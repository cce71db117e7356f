// Copies the non-TypeScript files the service reads at run time (Lua scripts) into dist/.
const { cpSync, readdirSync, statSync, mkdirSync } = require('node:fs');
const { join, dirname, relative } = require('node:path');

const root = join(__dirname, '..');
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.lua')) {
      const target = join(root, 'dist', relative(join(root, 'src'), path));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
    }
  }
}
walk(join(root, 'src'));
