/**
 * The lease operations the client sends. Each document is a plain string marked
 * `/* GraphQL *\/` so that graphql-codegen (codegen.yml) reads it and generates its result
 * and variable types into src/generated/graphql.ts: a field renamed or removed in schema.gql
 * fails the build instead of failing at run time.
 */

/** The fields of a lease the client keeps; only fields a heartbeat can answer from Redis alone. */
export const LEASE_FIELDS = /* GraphQL */ `
  fragment LeaseFields on Lease {
    id
    state
    credits
    fencingToken
    proof
    acquiredAt
    expiresAt
    leaseSeconds
    host
  }
`;

export const CHECKOUT = /* GraphQL */ `
  mutation Checkout($input: CheckoutInput!) {
    checkout(input: $input) {
      ...LeaseFields
    }
  }
  ${LEASE_FIELDS}
`;

export const CHECKIN = /* GraphQL */ `
  mutation Checkin($leaseId: ID!) {
    checkin(leaseId: $leaseId) {
      id
      state
    }
  }
`;

/** Heartbeats of leases whose holder asked for fresh proofs (refreshProof): the server signs one per lease. */
export const HEARTBEATS_WITH_PROOF = /* GraphQL */ `
  mutation HeartbeatsWithProof($leaseIds: [ID!]!, $idle: Boolean) {
    heartbeats(leaseIds: $leaseIds, idle: $idle) {
      leaseId
      code
      state
      lease {
        id
        expiresAt
        leaseSeconds
        proof
      }
    }
  }
`;

/** Heartbeats that do not select `proof`, so the server signs nothing: the common, cheap case. */
export const HEARTBEATS = /* GraphQL */ `
  mutation Heartbeats($leaseIds: [ID!]!, $idle: Boolean) {
    heartbeats(leaseIds: $leaseIds, idle: $idle) {
      leaseId
      code
      state
      lease {
        id
        expiresAt
        leaseSeconds
      }
    }
  }
`;

export const REVOKE_LEASE = /* GraphQL */ `
  mutation RevokeLease($leaseId: ID!, $reason: String) {
    revokeLease(leaseId: $leaseId, reason: $reason) {
      id
      state
      endedAt
    }
  }
`;

export const LEASES = /* GraphQL */ `
  query Leases($poolId: ID, $state: LeaseState, $first: Int, $after: String) {
    leases(poolId: $poolId, state: $state, first: $first, after: $after) {
      id
      state
      credits
      fencingToken
      host
      acquiredAt
      expiresAt
      endedAt
      leaseSeconds
      app {
        key
      }
      pool {
        id
        name
      }
      principal {
        id
        name
      }
    }
  }
`;

export const QUOTE = /* GraphQL */ `
  query Quote($poolId: ID!, $app: String!, $host: String, $workUnitId: ID) {
    quote(poolId: $poolId, app: $app, host: $host, workUnitId: $workUnitId) {
      cost
      grantable
      available
      queueLength
      estimatedWaitSeconds
    }
  }
`;

/** A borrow: the lease fields plus borrowedUntil (its proof's exp). */
export const BORROW = /* GraphQL */ `
  mutation Borrow($input: BorrowInput!) {
    borrow(input: $input) {
      ...LeaseFields
      borrowedUntil
    }
  }
  ${LEASE_FIELDS}
`;

export const RETURN_BORROWED = /* GraphQL */ `
  mutation ReturnBorrowed($leaseId: ID!) {
    returnBorrowed(leaseId: $leaseId) {
      id
      state
      endedAt
      borrowedUntil
    }
  }
`;
