/** Work units, outcomes and compute usage (see leases.ts for why these are marked strings). */

export const WORK_UNIT_FIELDS = /* GraphQL */ `
  fragment WorkUnitFields on WorkUnit {
    id
    externalRef
    process
    task
    team
    owner
    orgUnitKind
    outcome
  }
`;

export const UPSERT_WORK_UNIT = /* GraphQL */ `
  mutation UpsertWorkUnit($input: WorkUnitInput!) {
    upsertWorkUnit(input: $input) {
      ...WorkUnitFields
    }
  }
  ${WORK_UNIT_FIELDS}
`;

export const RECORD_OUTCOME = /* GraphQL */ `
  mutation RecordOutcome($input: OutcomeInput!) {
    recordOutcome(input: $input) {
      ...WorkUnitFields
    }
  }
  ${WORK_UNIT_FIELDS}
`;

export const RECORD_COMPUTE_USAGE = /* GraphQL */ `
  mutation RecordComputeUsage($events: [ComputeUsageInput!]!) {
    recordComputeUsage(events: $events) {
      accepted
      duplicates
      conflicts
    }
  }
`;
