import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The committed src/generated/graphql.ts must be what codegen.yml makes from the committed
 * schema.gql and operations: a schema change or an operation edited without `npm run build`
 * afterwards fails here, not in a user's build. Codegen runs as the build runs it (its CLI,
 * in a child process: it is ESM inside), writing to a temporary file.
 */
describe('generated operation types', () => {
  it('are what codegen makes from the committed schema.gql and operations', () => {
    const dir = join(__dirname, '..');
    const config = parse(readFileSync(join(dir, 'codegen.yml'), 'utf8')) as { generates: Record<string, unknown> };
    const [target, output] = Object.entries(config.generates)[0];
    const tmp = mkdtempSync(join(tmpdir(), 'tp-codegen-'));
    try {
      const fresh = join(tmp, 'graphql.ts');
      writeFileSync(join(tmp, 'codegen.json'), JSON.stringify({ ...config, generates: { [fresh]: output } }));
      const bin = join(require.resolve('@graphql-codegen/cli/package.json'), '..', 'cjs', 'bin.js');
      execFileSync(process.execPath, [bin, '--config', join(tmp, 'codegen.json'), '--silent'], { cwd: dir, stdio: 'pipe' });
      expect(readFileSync(fresh, 'utf8')).toBe(readFileSync(join(dir, target), 'utf8'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
