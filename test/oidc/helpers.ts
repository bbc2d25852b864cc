/**
 * Test helpers for the OpenID Connect provider: an app listening on a real port (openid-client
 * talks HTTP), an admin token, clients, and a tiny browser (a cookie jar following the pages by
 * fetch) that signs in and consents on the web front's real pages, for the flows without chromium.
 */
import { buildTestApp, login, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/server-process.js';

export interface OidcTestApp extends TestApp {
  origin: string;
  issuer: string;
  adminToken: string;
}

export async function startOidcApp(env: Record<string, string> = {}): Promise<OidcTestApp> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const t = await buildTestApp({ PUBLIC_URL: origin, ...env });
  await t.users.ensureAdmin({ email: 'admin@example.com', password: 'admin-password-1', username: 'admin1' });
  await t.app.listen({ port, host: '127.0.0.1' });
  const adminToken = await adminLogin(t);
  return { ...t, origin, issuer: `${origin}/oidc`, adminToken };
}

async function adminLogin(t: TestApp): Promise<string> {
  return login(t.app, 'admin@example.com', 'admin-password-1');
}

export async function createClient(t: OidcTestApp, body: Record<string, unknown>) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/admin/oidc/clients',
    headers: { authorization: `Bearer ${t.adminToken}` },
    payload: { type: 'confidential', scopes: ['openid', 'profile', 'email', 'roles', 'offline_access'], ...body },
  });
  if (res.statusCode !== 201) throw new Error(`client not created: ${res.statusCode} ${res.body}`);
  return res.json() as { client_id: string; client_secret: string | null };
}

/** A browser in miniature: cookies (by name; paths ignored), redirects followed by hand. */
export class MiniBrowser {
  readonly cookies = new Map<string, string>();
  constructor(readonly origin: string) {}

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const target = new URL(url, this.origin);
    const sameOrigin = target.origin === this.origin;
    const res = await fetch(target, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), ...(sameOrigin && cookie ? { cookie } : {}), accept: 'text/html' },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...rest] = (pair as string).split('=');
      const value = rest.join('=');
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') this.cookies.delete((name as string).trim());
      else this.cookies.set((name as string).trim(), value);
    }
    return res;
  }

  /**
   * Follows redirects and "Continue" pages (Refresh header) from `url` until leaving the
   * service's origin or reaching a page that wants input; returns that URL and the last response.
   */
  async follow(url: string): Promise<{ url: string; res: Response; body: string }> {
    let current = new URL(url, this.origin).href;
    for (let hops = 0; hops < 20; hops++) {
      if (!current.startsWith(this.origin)) return { url: current, res: new Response(null), body: '' };
      const res = await this.fetch(current);
      const location = res.headers.get('location');
      if (location !== null) {
        current = new URL(location, current).href;
        continue;
      }
      const refresh = res.headers.get('refresh');
      const body = await res.text();
      if (refresh !== null) {
        current = new URL(refresh.replace(/^0;url=/, ''), current).href;
        continue;
      }
      return { url: current, res, body };
    }
    throw new Error('too many redirects');
  }

  async submit(action: string, pageBody: string, fields: Record<string, string>) {
    const csrf = /name="_csrf" value="([^"]+)"/.exec(pageBody)?.[1];
    if (csrf === undefined) throw new Error('no CSRF token on the page');
    return this.fetch(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin },
      body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
    });
  }

  /** From the authorization URL to the app's callback URL: signs in and consents as needed. */
  async authorize(authUrl: string, credentials?: { login: string; password: string }, consent: 'allow' | 'deny' = 'allow'): Promise<string> {
    let step = await this.follow(authUrl);
    for (let rounds = 0; rounds < 5; rounds++) {
      if (!step.url.startsWith(this.origin)) return step.url;
      const page = new URL(step.url);
      if (page.pathname === '/sign-in') {
        if (credentials === undefined) throw new Error('asked to sign in');
        const next = page.searchParams.get('next') ?? '/';
        const res = await this.submit('/sign-in', step.body, { login: credentials.login, password: credentials.password, next });
        const location = res.headers.get('location');
        if (location === null) throw new Error(`sign-in failed: ${res.status}`);
        step = await this.follow(location);
      } else if (page.pathname.startsWith('/interaction/') && step.body.includes('name="decision"')) {
        const res = await this.submit(page.pathname, step.body, { decision: consent });
        const refresh = res.headers.get('refresh');
        if (refresh === null) throw new Error(`consent failed: ${res.status}`);
        step = await this.follow(refresh.replace(/^0;url=/, ''));
      } else {
        throw new Error(`stuck at ${step.url} (${step.res.status}): ${step.body.slice(0, 300)}`);
      }
    }
    throw new Error('too many steps');
  }
}
