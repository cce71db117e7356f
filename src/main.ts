import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApiApp } from './app.setup';
import { loadConfig } from './config/env';
import { closeOnSignals } from './process-lifecycle';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApiApp();
  closeOnSignals(app, config.shutdownGraceSeconds);
  await app.listen({ port: config.port, host: config.host });
  new Logger('Main').log(`tokenpool API listening on http://${config.host}:${config.port}/graphql`);
}

main().catch((err: unknown) => {
  // The logger may not exist yet (bad configuration): print plainly and fail.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
