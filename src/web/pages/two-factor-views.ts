/**
 * The views of /account/2fa: the QR to scan (the service's own SVG, placed with raw()), the key to
 * type by hand, and the recovery codes, shown once with a copy button and a download.
 *
 * The download is a `data:` link with the `download` attribute, built here from the codes this
 * very page shows: nothing is kept on the server for a later request, so the codes cannot be
 * fetched again by anyone, and the page needs no script for it. The pages' CSP governs what a page
 * loads, not what a link saves; browsers allow a `data:` URL as a download (not as a navigation).
 */
import type { TotpEnrolment } from '../../auth/totp/totp-service.js';
import type { User } from '../../store/store.js';
import { csrfInput, errorSummary, field, type FieldError, notice } from '../forms.js';
import { html, raw, type SafeHtml } from '../html.js';

/** `JBSWY3DPEHPK3PXP…` as `JBSW Y3DP EHPK 3PXP …`: easier to type and check by hand. */
export function groupKey(secret: string): string {
  return (secret.match(/.{1,4}/g) ?? []).join(' ');
}

const backTo2fa = html`<p class="back"><a href="/account/2fa">Back to two-factor authentication</a></p>`;

export function codeField(errors: readonly FieldError[], options: { recovery: boolean; autofocus?: boolean }): SafeHtml {
  return field({
    name: 'code',
    label: options.recovery ? 'Code from your app, or a recovery code' : 'Code from your app',
    autocomplete: 'one-time-code',
    inputmode: options.recovery ? 'text' : 'numeric',
    required: true,
    spellcheck: false,
    errors,
    autofocus: options.autofocus ?? errors.length === 0,
    hint: options.recovery ? '6 digits, or a recovery code like 7kq2-m9xd-c4rt' : 'The 6 digits the app shows now',
  });
}

/** Step 1: the password again (the service asks for it: a session alone must not enrol a phone). */
export function setupPasswordView(csrf: string, user: User, errors: FieldError[]): SafeHtml {
  return html`${backTo2fa}
<h1>Set up two-factor authentication</h1>
${errorSummary(errors)}
<p>You need an authenticator app on your phone, such as Aegis, Google Authenticator, Microsoft Authenticator or 1Password. After this, signing in asks for your password and a code from the app.</p>
<form method="post" action="/account/2fa/setup" novalidate>
  ${csrfInput(csrf)}
  <input type="hidden" name="username" value="${user.username}" autocomplete="username">
  ${field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', required: true, errors, autofocus: errors.length === 0 })}
  <div class="actions"><button type="submit">Continue</button><a href="/account/2fa">Cancel</a></div>
</form>`;
}

/** Step 2: scan (or type) the secret, then prove it with a first code. */
export function scanView(csrf: string, enrolment: TotpEnrolment): SafeHtml {
  return html`${backTo2fa}
<h1>Scan the code with your app</h1>
<ol class="steps">
  <li>
    <h2>Add this account to your app</h2>
    <p>In your authenticator app, choose to add an account, then scan this code.</p>
    <div class="qr totp-qr" role="img" aria-label="QR code for your authenticator app">${raw(enrolment.qrSvg)}</div>
    <p>Cannot scan it? Type this key in the app instead (spaces do not matter):</p>
    <p><code class="totp-key" id="totp-key">${groupKey(enrolment.secret)}</code></p>
    <div class="actions">
      <button type="button" class="secondary" data-copy="totp-key" data-copy-status="copy-status" hidden>Copy the key</button>
      <a href="${enrolment.otpauthUrl}">Open in an authenticator app on this device</a>
    </div>
    <p id="copy-status" role="status" class="muted"></p>
  </li>
  <li>
    <h2>Type the code it shows</h2>
    ${confirmForm(csrf, [], false)}
  </li>
</ol>`;
}

function confirmForm(csrf: string, errors: FieldError[], autofocus: boolean): SafeHtml {
  return html`<form method="post" action="/account/2fa/confirm" novalidate>
  ${csrfInput(csrf)}
  ${codeField(errors, { recovery: false, autofocus })}
  <div class="actions"><button type="submit">Turn it on</button></div>
</form>`;
}

/** The first code was wrong: try again (the app has the account already), or start over. */
export function confirmAgainView(csrf: string, errors: FieldError[]): SafeHtml {
  return html`${backTo2fa}
<h1>Type the code your app shows</h1>
${errorSummary(errors)}
<p>Type the code your app shows now for this account. Codes change every 30 seconds.</p>
${confirmForm(csrf, errors, true)}
<p>Not in your app, or typed the key wrong? <a href="/account/2fa/setup">Start the setup again</a>.</p>`;
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'account';

/** The recovery codes, this once: copy, download, or write them down. */
export function codesView(options: { codes: string[]; user: User; siteName: string; heading: string; message: SafeHtml }): SafeHtml {
  const { codes, user, siteName } = options;
  const text = [
    `Recovery codes for ${user.username} at ${siteName}`,
    `Made ${new Date().toISOString()}`,
    'Each code signs you in once, in place of a code from your authenticator app.',
    '',
    ...codes,
    '',
  ].join('\r\n');
  return html`<h1>${options.heading}</h1>
${options.message}
<p>If you lose your phone, each of these codes signs you in once instead of a code from the app. Keep them somewhere safe, such as a password manager or on paper. <strong>This is the only time they are shown.</strong></p>
<ol class="codes mono" id="recovery-codes">${codes.map((code) => html`<li>${code}</li>`)}</ol>
<div class="actions no-print">
  <button type="button" class="secondary" data-copy="recovery-codes" data-copy-status="copy-status" hidden>Copy the codes</button>
  <a class="button secondary" href="data:text/plain;charset=utf-8,${encodeURIComponent(text)}" download="${slug(siteName)}-recovery-codes.txt">Download them (.txt)</a>
</div>
<p id="copy-status" role="status" class="muted"></p>
<p><a class="button" href="/account/2fa">I have saved them</a></p>`;
}

export function statusView(options: { user: User; codesLeft: number; message?: SafeHtml }): SafeHtml {
  const { user, codesLeft } = options;
  const pending = !user.totpEnabled && user.totpSecret !== null;
  return html`<p class="back"><a href="/account">Back to your account</a></p>
<h1>Two-factor authentication</h1>
${options.message ?? ''}
${user.totpEnabled
    ? html`<p class="status-line"><strong>On.</strong> Signing in asks for your password and a code from your authenticator app.</p>
<section class="card" aria-labelledby="codes-title">
  <h2 id="codes-title">Recovery codes</h2>
  <p>${codesLeft === 0 ? html`<strong>You have no recovery codes left.</strong> Get new ones now, or losing your phone locks you out.` : `You have ${codesLeft} unused recovery code${codesLeft === 1 ? '' : 's'}.`}</p>
  <p><a href="/account/2fa/recovery-codes">Get new recovery codes</a></p>
</section>
<section class="card" aria-labelledby="off-title">
  <h2 id="off-title">Turn it off</h2>
  <p>Signing in then asks for your password only.</p>
  <p><a href="/account/2fa/disable">Turn off two-factor authentication</a></p>
</section>`
    : html`<p class="status-line"><strong>Off.</strong> Signing in asks for your password only.</p>
${pending ? notice('warning', 'You started setting it up but did not finish: it is not on yet.') : ''}
<p>With two-factor authentication, someone who learns your password still cannot sign in without your phone.</p>
<p><a class="button" href="/account/2fa/setup">${pending ? 'Start the setup again' : 'Set it up'}</a></p>`}`;
}

export function regenerateView(csrf: string, errors: FieldError[]): SafeHtml {
  return html`${backTo2fa}
<h1>Get new recovery codes</h1>
${errorSummary(errors)}
<p>You get 10 new codes. <strong>The codes you have now stop working.</strong></p>
<form method="post" action="/account/2fa/recovery-codes" novalidate>
  ${csrfInput(csrf)}
  ${codeField(errors, { recovery: false })}
  <div class="actions"><button type="submit">Get new codes</button><a href="/account/2fa">Cancel</a></div>
</form>`;
}

export function disableView(csrf: string, user: User, errors: FieldError[]): SafeHtml {
  return html`${backTo2fa}
<h1>Turn off two-factor authentication?</h1>
${errorSummary(errors)}
<p>Signing in will ask for your password only, and your recovery codes stop working. Anyone who learns your password can then sign in.</p>
<form method="post" action="/account/2fa/disable" novalidate>
  ${csrfInput(csrf)}
  <input type="hidden" name="username" value="${user.username}" autocomplete="username">
  ${field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', required: true, errors, autofocus: errors.length === 0 })}
  ${codeField(errors, { recovery: true, autofocus: false })}
  <div class="actions"><button type="submit" class="danger">Turn it off</button><a href="/account/2fa">Cancel</a></div>
</form>`;
}
