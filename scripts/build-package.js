// Builds one workspace package of packages/ (npm run build runs it for each, after the
// server, so schema.gql is current): the client's operation types are generated from
// schema.gql first (a schema change that breaks an operation of the client fails here), then
// TypeScript compiles into a fresh folder swapped in for the package's dist/.
const { execFileSync } = require('node:child_process');
const { existsSync, renameSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const name = process.argv[2];
const dir = join(__dirname, '..', 'packages', name);
const out = join(dir, `dist.build-${process.pid}`);
const tsc = require.resolve('typescript/bin/tsc');

try {
  const codegen = join(dir, 'codegen.yml');
  if (existsSync(codegen)) {
    const bin = join(require.resolve('@graphql-codegen/cli/package.json'), '..', 'cjs', 'bin.js');
    // Quiet when it works; when an operation no longer fits the schema, its whole report.
    try {
      execFileSync(process.execPath, [bin, '--config', codegen], { cwd: dir, stdio: 'pipe' });
    } catch (err) {
      process.stderr.write(`build: the ${name} package's operations do not fit schema.gql:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      throw err;
    }
  }
  execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--outDir', out], { cwd: dir, stdio: 'inherit' });
  const old = join(dir, `dist.old-${process.pid}`);
  if (existsSync(join(dir, 'dist'))) renameSync(join(dir, 'dist'), old);
  renameSync(out, join(dir, 'dist'));
  rmSync(old, { recursive: true, force: true });
} catch (err) {
  rmSync(out, { recursive: true, force: true });
  process.exitCode = 1;
  if (!err.status) console.error(err.message);
}
