// Builds into a fresh folder and swaps it in for dist/ at the end, so processes and tests
// that start while a build runs (another terminal, a watcher) never see a half-written dist/.
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const root = join(__dirname, '..');
const out = join(root, `dist.build-${process.pid}`);
const tsc = require.resolve('typescript/bin/tsc');

function copyLua(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyLua(path);
    else if (name.endsWith('.lua')) {
      const target = join(out, relative(join(root, 'src'), path));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
    }
  }
}

try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.migrations.json', '--outDir', join(out, 'migrations')], { cwd: root, stdio: 'inherit' });
  copyLua(join(root, 'src'));
  const old = join(root, `dist.old-${process.pid}`);
  if (existsSync(join(root, 'dist'))) renameSync(join(root, 'dist'), old);
  renameSync(out, join(root, 'dist'));
  rmSync(old, { recursive: true, force: true });
} catch (err) {
  rmSync(out, { recursive: true, force: true });
  process.exitCode = 1;
  if (!err.status) console.error(err.message);
}
