import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApiApp } from '../../src/app.setup';
import { OnboardingService } from '../../src/onboarding/onboarding.service';

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data: T | null;
  errors?: { message: string; path?: string[]; extensions: { code: string; field?: string; [key: string]: unknown } }[];
}

/** The real AppModule, built as main.ts builds it, against the run's PostgreSQL and Redis. */
export class TestApp {
  private constructor(readonly app: NestFastifyApplication) {}

  static async start(): Promise<TestApp> {
    const app = await createApiApp();
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return new TestApp(app);
  }

  get server() {
    return this.app.getHttpServer();
  }

  async gql<T = Record<string, unknown>>(key: string | null, query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>> {
    const req = request(this.server).post('/graphql').set('content-type', 'application/json');
    if (key) req.set('authorization', `Bearer ${key}`);
    const res = await req.send({ query, variables });
    return { status: res.status, data: res.body.data ?? null, errors: res.body.errors };
  }

  /** A fresh tenant with its admin key; names are unique per call. */
  async organization(label = 'org'): Promise<{ organizationId: string; adminKey: string }> {
    return this.app.get(OnboardingService).createOrganization({ name: `${label}-${randomUUID()}` });
  }

  /** A principal with a key of the given role, created through the API as an admin would. */
  async principalWithKey(
    adminKey: string,
    role: 'ADMIN' | 'CLIENT' | 'VIEWER',
    input: Partial<{ name: string; kind: string; team: string; orgUnitKind: string }> = {},
  ) {
    const created = await this.gql<{ createPrincipal: { id: string } }>(
      adminKey,
      'mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }',
      {
        input: {
          name: input.name ?? `p-${role.toLowerCase()}`,
          kind: input.kind ?? 'USER',
          team: input.team,
          orgUnitKind: input.orgUnitKind ?? 'GOING_CONCERN',
        },
      },
    );
    const principalId = created.data!.createPrincipal.id;
    const key = await this.gql<{ createApiKey: { id: string; secret: string } }>(
      adminKey,
      'mutation($p: ID!, $r: Role!) { createApiKey(principalId: $p, role: $r) { id secret } }',
      { p: principalId, r: role },
    );
    return { principalId, keyId: key.data!.createApiKey.id, key: key.data!.createApiKey.secret };
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

export function codeOf(result: GqlResult): string | undefined {
  return result.errors?.[0]?.extensions.code;
}
