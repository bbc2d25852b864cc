/**
 * Adding a passkey on /account/passkeys: the form (a name) shows only when the browser can make
 * passkeys. On submit it asks the page for the creation options, lets the browser make the
 * credential (@simplewebauthn/browser: fingerprint, face, screen lock or a phone), posts it with
 * its name and follows the redirect to the list.
 */
import { browserSupportsWebAuthn, startRegistration } from '@simplewebauthn/browser';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser';
import { isCancelled, PasskeyRefusal, postJson } from './_passkey-fetch.js';

const form = document.querySelector<HTMLFormElement>('form[data-passkey-register]');
if (form !== null && browserSupportsWebAuthn()) {
  const csrf = form.dataset.csrf ?? '';
  const status = document.getElementById('passkey-status');
  const name = form.querySelector<HTMLInputElement>('input[name="name"]');
  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]');
  const say = (text: string) => {
    if (status !== null) status.textContent = text;
  };
  form.hidden = false;
  document.querySelector<HTMLElement>('[data-passkey-unsupported]')?.setAttribute('hidden', '');

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const label = name?.value.trim() ?? '';
    if (label === '') {
      say('Enter a name for the passkey.');
      name?.focus();
      return;
    }
    if (button !== null) button.disabled = true;
    say('Follow your browser’s steps to make the passkey…');
    void (async () => {
      try {
        const optionsJSON = await postJson<PublicKeyCredentialCreationOptionsJSON>('/account/passkeys/options', csrf);
        const response = await startRegistration({ optionsJSON });
        const result = await postJson<{ redirect: string }>('/account/passkeys', csrf, { name: label, response });
        window.location.assign(result.redirect);
      } catch (error) {
        say(
          isCancelled(error)
            ? 'No passkey was made. Try again when you are ready.'
            : error instanceof PasskeyRefusal
              ? error.message
              : 'Your browser could not make a passkey here.',
        );
        if (button !== null) button.disabled = false;
      }
    })();
  });
}
