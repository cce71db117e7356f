/** Who holds a key: a person, an agent, or a service that may act on behalf of other principals. */
export type PrincipalKind = 'USER' | 'AGENT' | 'SERVICE';
