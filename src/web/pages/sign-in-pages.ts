/**
 * Signing in and out, and signing up: /sign-in (email or username, and password), /sign-in/code
 * (the second factor, when TOTP is on), /sign-out, /sign-up. The same services as POST /auth/login
 * and /auth/register, with the same limits and locks (http/rate-limits.ts lists these routes too);
 * the session is a browser session (an HttpOnly cookie), never a token a script could read.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../audit/audit-log.js';
import type { EmailVerificationService } from '../../auth/recovery/email-verification-service.js';
import type { LoginFlow } from '../../auth/login/login-flow.js';
import type { PasskeyService } from '../../auth/passkeys/passkey-service.js';
import type { SessionService } from '../../auth/sessions/session-service.js';
import type { TotpService } from '../../auth/totp/totp-service.js';
import { AppError, ValidationFailed } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { UserService } from '../../users/user-service.js';
import { csrfInput, errorSummary, field, type FieldError, notice, textField, titleWithErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import { safeNext, webContext, type WebKit } from '../web-kit.js';
import { clearCookie, readCookie, setCookie, startBrowserSession } from '../web-session.js';

export interface SignInDeps {
  kit: WebKit;
  users: UserService;
  login: LoginFlow;
  sessions: SessionService;
  totp: TotpService;
  emailVerification: EmailVerificationService;
  passkeys: PasskeyService;
}

/** How long the browser keeps a sign-in waiting for its second factor (the challenge's own life). */
const MFA_COOKIE_SECONDS = 300;

/** Field errors from a service's 422 (ValidationFailed), keyed by the form's field names. */
export function fieldErrors(error: ValidationFailed, rename: Record<string, string> = {}): FieldError[] {
  return error.issues.map((issue) => {
    const name = String(issue.loc.at(-1) ?? '');
    return { field: rename[name] ?? name, message: issue.msg };
  });
}

/** The sentence for a locked account or a rate limit, with the wait. */
function waitMessage(error: AppError): string {
  const seconds = Number(error.headers['Retry-After'] ?? 1);
  const wait = seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} second${seconds === 1 ? '' : 's'}`;
  return error.code === 'ACCOUNT_LOCKED'
    ? `Too many attempts for this account. Try again in ${wait}, or reset your password.`
    : `Too many requests. Try again in ${wait}.`;
}

export function signInPages(deps: SignInDeps) {
  const { kit, users, login, sessions, totp, emailVerification } = deps;

  const context = (request: FastifyRequest): RequestContext => requestContext(request);
  const endSession = (request: FastifyRequest) => async (session: { id: string; userId: string }) => {
    const user = webContext(request).user;
    if (user !== null) await sessions.end(user, session.id, context(request));
  };

  function signInForm(
    request: FastifyRequest,
    reply: FastifyReply,
    state: { login?: string; next: string; errors?: FieldError[]; message?: SafeHtml; status?: number },
  ) {
    const errors = state.errors ?? [];
    const withPasskeys = deps.passkeys.enabled();
    const csrf = kit.csrfToken(request, reply);
    // The island (passkey-sign-in.ts) shows the button and offers passkeys in the login field's
    // autofill ("username webauthn": conditional UI) when the browser can; without script, nothing shows.
    const passkeyButton = withPasskeys
      ? html`<div class="passkey-sign-in" data-passkey-sign-in data-csrf="${csrf}" data-next="${state.next}" hidden>
  <p class="or">or</p>
  <button type="button" class="secondary" id="passkey-button">Sign in with a passkey</button>
  <p class="passkey-status" id="passkey-status" role="status" aria-live="polite"></p>
</div>`
      : '';
    const main = html`<h1>Sign in</h1>
${state.message ?? ''}
${errorSummary(errors)}
<form method="post" action="/sign-in" novalidate>
  ${csrfInput(csrf)}
  <input type="hidden" name="next" value="${state.next}">
  ${field({ name: 'login', label: 'Email or username', value: state.login, autocomplete: withPasskeys ? 'username webauthn' : 'username', required: true, spellcheck: false, errors, autofocus: errors.length === 0 })}
  ${field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, errors })}
  <div class="actions"><button type="submit">Sign in</button></div>
</form>
${passkeyButton}
<p><a href="/forgot-password">Forgot your password?</a></p>
<p>No account yet? <a href="/sign-up">Create one</a>.</p>
<p>On a shared screen? <a href="/sign-in/qr">Sign in with your phone instead</a>.</p>`;
    return kit.render(request, reply, {
      title: titleWithErrors('Sign in', errors),
      main,
      narrow: true,
      status: state.status,
      islands: withPasskeys ? ['passkey-sign-in.js'] : [],
    });
  }

  function codeForm(request: FastifyRequest, reply: FastifyReply, state: { next: string; errors?: FieldError[]; status?: number }) {
    const errors = state.errors ?? [];
    const main = html`<h1>Enter your code</h1>
${errorSummary(errors)}
<p>Open your authenticator app and type the 6-digit code it shows for this account. Lost your phone? Type one of your recovery codes instead.</p>
<form method="post" action="/sign-in/code" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="next" value="${state.next}">
  ${field({ name: 'code', label: 'Code', autocomplete: 'one-time-code', inputmode: 'text', required: true, spellcheck: false, errors, autofocus: true, hint: '6 digits, or a recovery code like 7kq2-m9xd-c4rt' })}
  <div class="actions"><button type="submit">Continue</button></div>
</form>
<p><a href="/sign-in">Start again</a></p>`;
    return kit.render(request, reply, { title: titleWithErrors('Enter your code', errors), main, narrow: true, status: state.status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/sign-in', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const next = safeNext(query.next);
      if (webContext(request).user !== null) return kit.redirect(reply, next);
      const message =
        query.expired === '1'
          ? notice('warning', 'That took too long: sign in again.')
          : query.reset === '1'
            ? notice('success', 'Your password is changed, and every device that was signed in to your account is signed out. Sign in with the new password.')
            : query['signed-out-everywhere'] === '1'
              ? notice('success', 'You are signed out everywhere: every browser and app, this one too.')
              : undefined;
      return signInForm(request, reply, { next, message });
    });

    kit.post(app, '/sign-in', async (request, reply) => {
      const body = request.body;
      const loginName = textField(body, 'login');
      const password = textField(body, 'password', { keepSpaces: true });
      const next = safeNext(textField(body, 'next'));
      const missing: FieldError[] = [];
      if (loginName === '') missing.push({ field: 'login', message: 'Enter your email or username' });
      if (password === '') missing.push({ field: 'password', message: 'Enter your password' });
      if (missing.length > 0) return signInForm(request, reply, { login: loginName, next, errors: missing, status: 422 });
      try {
        const user = await users.login(loginName, password, context(request));
        const signedIn = await login.complete(user, context(request), 'password', sessions.browser);
        await startBrowserSession(request, reply, signedIn, endSession(request));
        return kit.redirect(reply, next);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'MFA_REQUIRED') {
          setCookie(request, reply, 'mfa', String(error.extra.mfa_token), MFA_COOKIE_SECONDS);
          return kit.redirect(reply, `/sign-in/code?next=${encodeURIComponent(next)}`);
        }
        const message =
          error.code === 'INVALID_CREDENTIALS'
            ? 'The email, username or password is not right'
            : error.code === 'ACCOUNT_DISABLED'
              ? 'This account is disabled. Ask an administrator.'
              : error.statusCode === 429
                ? waitMessage(error)
                : error.detail;
        return signInForm(request, reply, { login: loginName, next, errors: [{ field: '', message }], status: error.statusCode });
      }
    });

    kit.get(app, '/sign-in/code', async (request, reply) => {
      const next = safeNext((request.query as Record<string, unknown>).next);
      if (readCookie(request, 'mfa') === undefined) return kit.redirect(reply, `/sign-in?next=${encodeURIComponent(next)}`);
      return codeForm(request, reply, { next });
    });

    // The per-user limit of second-factor checks counts the challenge's user, as for the API.
    const challengeIntoBody = (request: FastifyRequest) => {
      const mfaToken = readCookie(request, 'mfa');
      if (mfaToken !== undefined && typeof request.body === 'object' && request.body !== null) {
        (request.body as Record<string, unknown>).mfa_token = mfaToken;
      }
    };

    kit.post(app, '/sign-in/code', async (request, reply) => {
      const next = safeNext(textField(request.body, 'next'));
      const mfaToken = readCookie(request, 'mfa');
      if (mfaToken === undefined) return kit.redirect(reply, `/sign-in?expired=1&next=${encodeURIComponent(next)}`);
      const code = textField(request.body, 'code');
      if (code === '') return codeForm(request, reply, { next, errors: [{ field: 'code', message: 'Enter the code' }], status: 422 });
      try {
        const signedIn = await totp.verifyLogin(mfaToken, code, context(request), sessions.browser);
        clearCookie(request, reply, 'mfa');
        await startBrowserSession(request, reply, signedIn, endSession(request));
        return kit.redirect(reply, next);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'INVALID_MFA_TOKEN') {
          clearCookie(request, reply, 'mfa');
          return kit.redirect(reply, `/sign-in?expired=1&next=${encodeURIComponent(next)}`);
        }
        if (error.code === 'INVALID_MFA_CODE') {
          const left = error.extra.attempts_left;
          const message =
            left === 0
              ? 'That code is not right, and this sign-in takes no more: start again.'
              : `That code is not right (or was used already). ${typeof left === 'number' ? `${left} more tr${left === 1 ? 'y' : 'ies'}.` : ''}`;
          if (left === 0) clearCookie(request, reply, 'mfa');
          return codeForm(request, reply, { next, errors: [{ field: 'code', message: message.trim() }], status: 403 });
        }
        const message = error.statusCode === 429 ? waitMessage(error) : error.detail;
        return codeForm(request, reply, { next, errors: [{ field: 'code', message }], status: error.statusCode });
      }
    }, { beforeLimits: challengeIntoBody });

    kit.post(app, '/sign-out', async (request, reply) => {
      const web = webContext(request);
      if (web.user !== null && web.session !== null) await sessions.end(web.user, web.session.id, context(request));
      clearCookie(request, reply, 'sid');
      return kit.redirect(reply, '/?signed-out=1');
    });

    function signUpForm(
      request: FastifyRequest,
      reply: FastifyReply,
      state: { values?: Record<string, string>; errors?: FieldError[]; status?: number },
    ) {
      const errors = state.errors ?? [];
      const v = state.values ?? {};
      const main = html`<h1>Create an account</h1>
${errorSummary(errors)}
<form method="post" action="/sign-up" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  ${field({ name: 'full_name', label: 'Full name', value: v.full_name, autocomplete: 'name', errors, hint: 'Optional: how teachers and staff see you' })}
  ${field({ name: 'username', label: 'Username', value: v.username, autocomplete: 'username', required: true, spellcheck: false, errors, hint: '3 to 50 letters, digits, dots, dashes or underscores' })}
  ${field({ name: 'email', label: 'Email', type: 'email', value: v.email, autocomplete: 'email', required: true, spellcheck: false, errors })}
  ${field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true, errors, hint: 'At least 8 characters; a few words you can remember make a good one' })}
  <div class="actions"><button type="submit">Create the account</button></div>
</form>
<p>Have an account? <a href="/sign-in">Sign in</a>.</p>`;
      return kit.render(request, reply, { title: titleWithErrors('Create an account', errors), main, narrow: true, status: state.status });
    }

    kit.get(app, '/sign-up', async (request, reply) => {
      if (webContext(request).user !== null) return kit.redirect(reply, '/account');
      return signUpForm(request, reply, {});
    });

    kit.post(app, '/sign-up', async (request, reply) => {
      const values = {
        full_name: textField(request.body, 'full_name'),
        username: textField(request.body, 'username'),
        email: textField(request.body, 'email'),
      };
      const password = textField(request.body, 'password', { keepSpaces: true });
      const missing: FieldError[] = [];
      if (values.username === '') missing.push({ field: 'username', message: 'Enter a username' });
      if (values.email === '') missing.push({ field: 'email', message: 'Enter your email address' });
      if (password === '') missing.push({ field: 'password', message: 'Choose a password' });
      if (values.full_name.length > 200) missing.push({ field: 'full_name', message: 'The name is too long (200 characters at most)' });
      if (missing.length > 0) return signUpForm(request, reply, { values, errors: missing, status: 422 });
      try {
        const user = await users.register(
          { username: values.username, email: values.email, password, fullName: values.full_name === '' ? null : values.full_name },
          null,
          context(request),
        );
        await emailVerification.request(user, context(request));
        const main = html`<h1>Check your email</h1>
${notice('success', html`Your account <strong>${user.username}</strong> is ready.`)}
<p>We sent a link to <strong>${user.email}</strong> to confirm that the address is yours. Open it, then sign in.</p>
<p><a class="button" href="/sign-in">Sign in</a></p>`;
        return kit.render(request, reply, { title: 'Check your email', main, narrow: true, status: 201 });
      } catch (error) {
        if (error instanceof ValidationFailed) {
          return signUpForm(request, reply, { values, errors: fieldErrors(error), status: 422 });
        }
        if (error instanceof AppError && error.code === 'USER_EXISTS') {
          return signUpForm(request, reply, {
            values,
            errors: [{ field: 'username', message: 'That username or email is taken already. Pick another, or sign in.' }],
            status: 400,
          });
        }
        throw error;
      }
    });
  };
}
