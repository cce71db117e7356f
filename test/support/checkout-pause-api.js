// Test-only API entrypoint, never shipped: dist/main.js, but every check-out is held for
// TEST_CHECKOUT_PAUSE_MS between its Redis grant and its PostgreSQL record, so that fault
// tests can kill the process or cut PostgreSQL inside that window. The service itself reads
// no such switch: this replaces the hook of its CheckoutHooks provider (a no-op there).
const { createApiApp } = require('../../dist/app.setup');
const { loadConfig } = require('../../dist/config/env');
const { CheckoutHooks } = require('../../dist/leases/checkout-hooks');
const { closeOnSignals } = require('../../dist/process-lifecycle');

async function main() {
  const pauseMs = Number(process.env.TEST_CHECKOUT_PAUSE_MS ?? 0);
  const config = loadConfig();
  const app = await createApiApp();
  app.get(CheckoutHooks).granted = () => new Promise((resolve) => setTimeout(resolve, pauseMs));
  closeOnSignals(app, config.shutdownGraceSeconds);
  await app.listen({ port: config.port, host: config.host });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
