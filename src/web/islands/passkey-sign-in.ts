/**
 * The sign-in page's passkeys: shows the "Sign in with a passkey" button when the browser can use
 * passkeys, and offers them in the login field's autofill too (conditional UI, the field's
 * `autocomplete="username webauthn"`). Either way it asks the page for a challenge, lets the
 * browser run the ceremony (@simplewebauthn/browser), posts the answer and follows the redirect.
 * Pressing the button cancels the waiting autofill ceremony (only one may run at a time).
 */
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication } from '@simplewebauthn/browser';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { isCancelled, PasskeyRefusal, postJson } from './_passkey-fetch.js';

const root = document.querySelector<HTMLElement>('[data-passkey-sign-in]');
if (root !== null && browserSupportsWebAuthn()) {
  const csrf = root.dataset.csrf ?? '';
  const next = root.dataset.next ?? '/';
  const button = root.querySelector<HTMLButtonElement>('#passkey-button');
  const status = root.querySelector<HTMLElement>('#passkey-status');
  const say = (text: string) => {
    if (status !== null) status.textContent = text;
  };
  root.hidden = false;

  const signIn = async (autofill: boolean) => {
    const optionsJSON = await postJson<PublicKeyCredentialRequestOptionsJSON>('/sign-in/passkey/options', csrf);
    const response = await startAuthentication({ optionsJSON, useBrowserAutofill: autofill });
    say('Signing you in…');
    const result = await postJson<{ redirect: string }>('/sign-in/passkey', csrf, { response, next });
    window.location.assign(result.redirect);
  };

  const attempt = (autofill: boolean) =>
    signIn(autofill).catch((error: unknown) => {
      if (isCancelled(error)) {
        if (!autofill) say('No passkey was used. Try again, or sign in with your password.');
        return;
      }
      say(error instanceof PasskeyRefusal ? error.message : 'Your browser could not use a passkey here. Sign in with your password.');
    });

  button?.addEventListener('click', () => {
    say('');
    void attempt(false);
  });
  void browserSupportsWebAuthnAutofill().then((yes) => {
    if (yes) void attempt(true);
  });
}
