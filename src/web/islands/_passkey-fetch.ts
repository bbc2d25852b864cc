/**
 * What the two passkey islands share: posting JSON to the page's own routes with the form's CSRF
 * token (same origin, the session cookie rides along), and reading `{detail}` from a refusal.
 */
export interface Refusal {
  detail: string;
  code?: string;
}

export async function postJson<T>(url: string, csrf: string, body: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
    body: JSON.stringify({ ...body, _csrf: csrf }),
  });
  const type = response.headers.get('content-type') ?? '';
  const answer: unknown = type.includes('application/json') ? await response.json() : null;
  if (!response.ok) {
    const detail = (answer as Partial<Refusal> | null)?.detail;
    throw new PasskeyRefusal(typeof detail === 'string' ? detail : 'Something went wrong. Reload the page and try again.');
  }
  return answer as T;
}

export class PasskeyRefusal extends Error {}

/** A ceremony the person cancelled (or that another ceremony replaced) says nothing alarming. */
export function isCancelled(error: unknown): boolean {
  return error instanceof Error && (error.name === 'NotAllowedError' || error.name === 'AbortError' || (error as { code?: string }).code === 'ERROR_CEREMONY_ABORTED');
}
