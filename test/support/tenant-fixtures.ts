import { randomUUID } from 'node:crypto';
import { HistoryImportService } from '../../src/history/history-import.service';
import type { TestApp } from './app';
import { CHECKOUT } from './catalog';
import type { ArgumentSite } from './schema-walk';

/** An organization with one of everything the schema can create, each text starting with its mark. */
export interface SeededOrganization {
  organizationId: string;
  adminKey: string;
  clientKey: string;
  viewerKey: string;
  /** The CLIENT's principal, which holds the active lease and created the work unit. */
  principalId: string;
  poolId: string;
  appId: string;
  appKey: string;
  /** An active lease of the CLIENT, for 3600 s. */
  leaseId: string;
  /** A borrowed lease of the CLIENT (for 24 h, of a second app of cost 1) that the admin revoked: listed in the revocation list. */
  revokedBorrowId: string;
  workUnitId: string;
  /** A TEAM compute budget of the CLIENT's team. */
  budgetId: string;
  /** An OPEN compute reservation of the CLIENT, for 3600 s. */
  reservationId: string;
  /** A key no test authenticates with, for walks that revoke a key. */
  spareKeyId: string;
  /** The API key secrets of the organization. */
  secrets: string[];
  /** The active lease's proof, when the admin may read it. */
  proof: string | null;
}

/** A unique string that starts with `mark`: lower-case letters and digits, so it is a valid app key, name or ref anywhere. */
export function marked(mark: string, kind: string): string {
  return `${mark}${kind}${randomUUID().replace(/-/g, '')}`;
}

async function must<T>(answer: Promise<{ data: T | null; errors?: unknown }>): Promise<T> {
  const res = await answer;
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data;
}

/**
 * Creates an organization through the API, as its admin and CLIENT would, with principals,
 * a pool, an app, a group limit, leases (active, ended, revoked, a revoked borrow), a denial, past usage with
 * its rollups, a work unit with an outcome history, compute usage, a model price, a compute
 * budget with an open and a settled reservation, a ledger seal, and the audit entries all of these write. Every name, key, ref, model and free text carries `mark`.
 */
export async function seedOrganization(t: TestApp, mark: string): Promise<SeededOrganization> {
  const text = (kind: string) => marked(mark, kind);
  const { organizationId, adminKey } = await t.organization(text('org'));
  const team = text('team');
  const client = await t.principalWithKey(adminKey, 'CLIENT', { name: text('client'), team });
  const viewer = await t.principalWithKey(adminKey, 'VIEWER', { name: text('viewer'), team: text('viewerteam') });
  const spare = await t.principalWithKey(adminKey, 'CLIENT', { name: text('spare'), kind: 'AGENT', orgUnitKind: 'CHANGE' });
  const { createPool: pool } = await must(
    t.gql<{ createPool: { id: string } }>(adminKey, 'mutation($input: CreatePoolInput!) { createPool(input: $input) { id } }', {
      input: { name: text('pool'), cap: 10, creditHourPrice: 1.5, maxBorrowHours: 24 },
    }),
  );
  const appKey = text('app');
  const { createApp: app } = await must(
    t.gql<{ createApp: { id: string } }>(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
      input: { poolId: pool.id, key: appKey, name: text('appname'), vendor: text('vendor'), cost: 4, shareScope: 'NONE', lingerSeconds: 0 },
    }),
  );
  await must(
    t.gql(adminKey, 'mutation($input: GroupLimitInput!) { setGroupLimit(input: $input) { team } }', { input: { poolId: pool.id, team, reserved: 1, max: 8 } }),
  );

  const { upsertWorkUnit: unit } = await must(
    t.gql<{ upsertWorkUnit: { id: string } }>(client.key, 'mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { id } }', {
      input: { externalRef: text('ref'), process: text('process'), team, owner: text('owner'), task: text('task') },
    }),
  );
  const checkout = { poolId: pool.id, app: appKey, host: text('host'), leaseSeconds: 3600, workUnitId: unit.id };
  const { checkout: held } = await must(t.gql<{ checkout: { id: string } }>(client.key, CHECKOUT, { input: { ...checkout, idempotencyKey: text('idem') } }));
  // Two more draws of 4 exceed the cap of 10: the second is refused and recorded as a denial.
  const ended = await must(t.gql<{ checkout: { id: string } }>(adminKey, CHECKOUT, { input: { ...checkout, idempotencyKey: text('idem') } }));
  await t.gql(client.key, CHECKOUT, { input: { ...checkout, idempotencyKey: text('idem') } });
  await must(t.gql(adminKey, 'mutation($id: ID!) { checkin(leaseId: $id) { id } }', { id: ended.checkout.id }));
  const revoked = await must(t.gql<{ checkout: { id: string } }>(adminKey, CHECKOUT, { input: { ...checkout, idempotencyKey: text('idem') } }));
  await must(
    t.gql(adminKey, 'mutation($id: ID!, $r: String) { revokeLease(leaseId: $id, reason: $r) { id } }', { id: revoked.checkout.id, r: text('reason') }),
  );

  // Past usage (an ended draw, idle time, a denial) and its rollups, so the reports read rows of this organization.
  const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  const hour = (h: number) => new Date(day + h * 3_600_000);
  await t.app.get(HistoryImportService).import({
    organizationId,
    poolId: pool.id,
    leases: [{ appId: app.id, principalId: client.principalId, acquiredAt: hour(1), endedAt: hour(3), idle: [{ startedAt: hour(2), endedAt: hour(2.5) }] }],
    denials: [{ appId: app.id, principalId: client.principalId, at: hour(1.5) }],
  });

  for (const outcome of ['REJECTED', 'ACCEPTED']) {
    await must(
      t.gql(client.key, 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }', {
        input: { workUnitId: unit.id, outcome, valueDimension: 'MARGIN', valueAmount: 10, decision: text('decision'), qualityResult: text('quality') },
      }),
    );
  }
  // Compute usage: one event priced by the caller, one unpriced and then priced by a backdated price (a correction row).
  const usage = {
    workUnitId: unit.id,
    provider: text('provider'),
    model: text('model'),
    inputTokens: 100,
    outputTokens: 10,
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
  };
  await must(
    t.gql(client.key, 'mutation($e: [ComputeUsageInput!]!) { recordComputeUsage(events: $e) { accepted } }', {
      e: [
        { ...usage, eventId: text('event') },
        { ...usage, eventId: text('event'), cost: 0.5 },
      ],
    }),
  );
  await must(
    t.gql(adminKey, 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }', {
      input: { provider: usage.provider, model: usage.model, inputPerMillion: 1, outputPerMillion: 2, effectiveFrom: '2020-01-01T00:00:00Z' },
    }),
  );
  const { createComputeBudget: budget } = await must(
    t.gql<{ createComputeBudget: { id: string } }>(adminKey, 'mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { id } }', {
      input: { name: text('budget'), scope: 'TEAM', team, period: 'MONTH', limit: 100 },
    }),
  );
  const reserve = (amount: number) =>
    must(
      t.gql<{ reserveCompute: { id: string } }>(client.key, 'mutation($input: ReserveComputeInput!) { reserveCompute(input: $input) { id } }', {
        input: {
          provider: usage.provider,
          model: usage.model,
          maxInputTokens: 10,
          maxOutputTokens: 10,
          amount,
          workUnitId: unit.id,
          reservationSeconds: 3600,
          idempotencyKey: text('idem'),
        },
      }),
    );
  const { reserveCompute: reservation } = await reserve(1);
  const { reserveCompute: settled } = await reserve(2);
  await must(
    t.gql(client.key, 'mutation($id: ID!, $usage: ComputeUsageInput!) { settleCompute(reservationId: $id, usage: $usage) { id } }', {
      id: settled.id,
      usage: { ...usage, eventId: text('event'), cost: 1.5 },
    }),
  );
  // A borrow the admin revoked: it keeps its credit (of 1) held and is in the revocation list.
  const borrowKey = text('borrowapp');
  await must(
    t.gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
      input: { poolId: pool.id, key: borrowKey, name: text('appname'), cost: 1, shareScope: 'NONE', lingerSeconds: 0 },
    }),
  );
  const { borrow } = await must(
    t.gql<{ borrow: { id: string } }>(client.key, 'mutation($input: BorrowInput!) { borrow(input: $input) { id } }', {
      input: { poolId: pool.id, app: borrowKey, hours: 24, host: text('host') },
    }),
  );
  await must(t.gql(adminKey, 'mutation($id: ID!) { revokeLease(leaseId: $id) { id } }', { id: borrow.id }));
  // A seal over what the organization recorded so far (the worker would make it within the hour).
  await must(t.gql(adminKey, 'mutation { sealLedger { sequence } }'));
  const proof = await t.gql<{ lease: { proof: string | null } | null }>(adminKey, 'query($id: ID!) { lease(id: $id) { proof } }', { id: held.id });
  return {
    organizationId,
    adminKey,
    clientKey: client.key,
    viewerKey: viewer.key,
    principalId: client.principalId,
    poolId: pool.id,
    appId: app.id,
    appKey,
    leaseId: held.id,
    revokedBorrowId: borrow.id,
    workUnitId: unit.id,
    budgetId: budget.id,
    reservationId: reservation.id,
    spareKeyId: spare.keyId,
    secrets: [adminKey, client.key, viewer.key, spare.key],
    proof: proof.data?.lease?.proof ?? null,
  };
}

/** The organization's own object for an ID argument: ids that exist, so a walk gets past them to its other arguments. */
export function ownIdFor(org: SeededOrganization): (site: ArgumentSite) => string {
  const byArgument: Record<string, string> = {
    poolId: org.poolId,
    appId: org.appId,
    leaseId: org.leaseId,
    workUnitId: org.workUnitId,
    principalId: org.principalId,
    onBehalfOf: org.principalId,
    reservationId: org.reservationId,
  };
  // `id` names what the field returns, else what its name mentions (revokeApiKey answers a Boolean).
  const byType: [string, string][] = [
    ['Pool', org.poolId],
    ['App', org.appId],
    ['Lease', org.leaseId],
    ['WorkUnit', org.workUnitId],
    ['Principal', org.principalId],
    ['ApiKey', org.spareKeyId],
    ['ComputeBudget', org.budgetId],
    ['ComputeReservation', org.reservationId],
  ];
  return (site) => {
    if (byArgument[site.name]) return byArgument[site.name];
    const match = byType.find(([type]) => site.returnType === type) ?? byType.find(([type]) => site.field.toLowerCase().includes(type.toLowerCase()));
    return match ? match[1] : randomUUID();
  };
}
