// Test-only API entrypoint, never shipped: dist/main.js, but a request carrying
// `x-test-delay-ms` is held that long (at most 30 s) before its handler runs, so that a test
// can send SIGTERM while it is in flight and watch the server drain it. The application
// itself has no such hook: this adds one to its Fastify instance before it listens.
const { createApiApp } = require('../../dist/app.setup');
const { loadConfig } = require('../../dist/config/env');
const { closeOnSignals } = require('../../dist/process-lifecycle');

async function main() {
  const config = loadConfig();
  const app = await createApiApp();
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('preHandler', async (request) => {
      const delay = Number(request.headers['x-test-delay-ms'] ?? 0);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(delay, 30_000)));
    });
  closeOnSignals(app, config.shutdownGraceSeconds);
  await app.listen({ port: config.port, host: config.host });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
