// The dashboard speaks only the public GraphQL API, with the key the person signed in with.
// The key lives in sessionStorage (this tab only), is sent as a header, never in a URL, and
// never appears in a message this code shows or logs.

const KEY = 'tokenpool.key';
/** Dispatched on window when the signed-in key is refused as UNAUTHENTICATED; detail is the ApiError. */
export const SIGNED_OUT = 'tokenpool:signed-out';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}
export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}
export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** A refusal as the contract words it: its extensions.code and its message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type GqlBody<T> = { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };

/** One GraphQL operation over POST /graphql; a refusal throws ApiError with the contract's code and message. */
export async function gql<T>(query: string, variables?: Record<string, unknown>, key = storedKey()): Promise<T> {
  if (!key) throw new ApiError('UNAUTHENTICATED', 'Sign in with an API key');
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('UNAVAILABLE', 'The server did not answer; check that it runs and retry');
  }
  let body: GqlBody<T>;
  try {
    body = (await res.json()) as GqlBody<T>;
  } catch {
    throw new ApiError('UNAVAILABLE', `The server answered ${res.status} without a GraphQL body; retry shortly`);
  }
  const first = body.errors?.[0];
  if (first) {
    const error = new ApiError(first.extensions?.code ?? 'ERROR', first.message);
    // The signed-in key stopped working (revoked, expired): back to the sign-in page, with the reason.
    if (error.code === 'UNAUTHENTICATED' && key === storedKey()) dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: error }));
    throw error;
  }
  if (!body.data) throw new ApiError('ERROR', 'The server answered no data');
  return body.data;
}

/** Downloads a CSV export with the key in the Authorization header (never in the URL), saved from a Blob. */
export async function download(path: string, filename: string): Promise<void> {
  const key = storedKey();
  if (!key) throw new ApiError('UNAUTHENTICATED', 'Sign in with an API key');
  const res = await fetch(path, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) {
    let message = `The export answered ${res.status}`;
    let code = 'ERROR';
    try {
      const body = (await res.json()) as GqlBody<unknown>;
      if (body.errors?.[0]) (({ message } = body.errors[0]), (code = body.errors[0].extensions?.code ?? code));
    } catch {
      // not JSON: keep the status
    }
    throw new ApiError(code, message);
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
