// Builds into a fresh folder and swaps it in for dist/ at the end, so processes and tests
// that start while a build runs (another terminal, a watcher) never see a half-written dist/.
// Why not `nest build`: there are two TypeScript projects (the app and the migrations), the
// Lua scripts must sit beside the compiled code, and the build writes schema.gql.
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const root = join(__dirname, '..');
const out = join(root, `dist.build-${process.pid}`);
const tsc = require.resolve('typescript/bin/tsc');
// npm test builds with --keep-schema, so test/unit/schema-file.spec.ts compares the committed
// schema.gql with the code instead of with a file this build just wrote.
const keepSchema = process.argv.includes('--keep-schema');

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

/** schema.gql, the schema the built code serves (for client authors, and so a review shows every API change). */
function writeSchema() {
  const script = `require(${JSON.stringify(join(out, 'graphql-schema.js'))}).writeServedSchema(${JSON.stringify(join(root, 'schema.gql'))})
    .then((changed) => changed && console.log('build: schema.gql changed (the API did): review and commit it'))`;
  execFileSync(process.execPath, ['-e', script], { cwd: root, stdio: 'inherit' });
}

try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.migrations.json', '--outDir', join(out, 'migrations')], { cwd: root, stdio: 'inherit' });
  copyLua(join(root, 'src'));
  // The dashboard (web/, docs/dashboard.md): type-checked, then bundled by Vite (ESM, a child process) into web/ of the build.
  execFileSync(process.execPath, [tsc, '-p', 'web/tsconfig.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.mjs', '--outDir', join(out, 'web')],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (!keepSchema) writeSchema();
  const old = join(root, `dist.old-${process.pid}`);
  if (existsSync(join(root, 'dist'))) renameSync(join(root, 'dist'), old);
  renameSync(out, join(root, 'dist'));
  rmSync(old, { recursive: true, force: true });
  // The client SDK and the command line (packages/), in the order package.json lists them.
  execFileSync('npm', ['run', 'build', '--workspaces', '--if-present', '--silent'], { cwd: root, stdio: 'inherit' });
} catch (err) {
  rmSync(out, { recursive: true, force: true });
  process.exitCode = 1;
  if (!err.status) console.error(err.message);
}
