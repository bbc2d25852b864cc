/**
 * GET /: the start page for a browser (Accept: text/html), and for everyone else the old
 * service's JSON answer, unchanged: its clients read `{"message", "version", "docs"}` here.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { response } from '../../http/doc-schemas.js';
import { API_VERSION } from '../../http/openapi.js';
import { apiHeaders, pageHeaders } from '../../http/security-headers.js';
import { notice } from '../forms.js';
import { html } from '../html.js';
import { webContext, type WebKit } from '../web-kit.js';
import { wantsHtml } from '../web-front.js';

const AboutSchema = Type.Object(
  { message: Type.String(), version: Type.String(), docs: Type.String() },
  { examples: [{ message: 'User/Auth/QR Microservice API', version: API_VERSION, docs: '/docs' }] },
);

export function homePage(deps: { kit: WebKit }) {
  const { kit } = deps;
  const jsonHeaders = apiHeaders();
  const pageOnly = Object.keys(pageHeaders()).filter((name) => !(name in jsonHeaders));
  return async (app: FastifyInstance) => {
    app.get(
      '/',
      {
        schema: {
          tags: ['meta'],
          summary: 'About the service (a browser gets the start page)',
          description:
            "The old service's answer, for API clients. A browser (Accept: text/html) gets the web front's start page instead.",
          response: { 200: response('Name, version and where the API documentation is', AboutSchema) },
        },
      },
      async (request, reply) => {
        if (!wantsHtml(request)) {
          // The old service's clients get the API's headers, as on every other JSON answer.
          for (const name of pageOnly) reply.removeHeader(name);
          reply.headers(jsonHeaders);
          return { message: 'User/Auth/QR Microservice API', version: API_VERSION, docs: '/docs' };
        }
        const user = webContext(request).user;
        const signedOut = (request.query as Record<string, unknown>)['signed-out'] === '1';
        const main =
          user === null
            ? html`<h1>Welcome</h1>
${signedOut ? notice('success', 'You are signed out.') : ''}
<p class="lead">Sign in to see your account and your badge, or check someone's badge.</p>
<div class="actions">
  <a class="button" href="/sign-in">Sign in</a>
  <a class="button secondary" href="/sign-up">Create an account</a>
</div>
<div class="grid">
  <section class="card"><h2>Check a badge</h2><p>Point a camera at a badge, or upload a photo of it, to see whether it is valid.</p><p><a href="/check">Open the badge checker</a></p></section>
  <section class="card"><h2>On a shared screen?</h2><p>Sign in by scanning a code with your phone, no password typed here.</p><p><a href="/sign-in/qr">Sign in with your phone</a></p></section>
</div>
<p class="muted">Developers: the JSON API is documented at <a href="/docs">/docs</a>.</p>`
            : html`<h1>Hello, ${user.fullName ?? user.username}</h1>
<div class="grid">
  <section class="card"><h2>Your badge</h2><p>Show it, download it or print it.</p><p><a href="/badge">Open my badge</a></p></section>
  <section class="card"><h2>Your account</h2><p>Profile, password, two-factor authentication and where you are signed in.</p><p><a href="/account">Open my account</a></p></section>
  <section class="card"><h2>Check a badge</h2><p>Use the camera, or a photo.</p><p><a href="/check">Open the badge checker</a></p></section>
</div>`;
        return kit.render(request, reply, { title: 'Start', main });
      },
    );
  };
}
