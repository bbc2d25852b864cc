/**
 * A badge check's verdict, as the checker shows it: one large word (VALID / NOT VALID, with a mark
 * and a colour, never the colour alone), who the badge names and the reason in words. The camera
 * island (islands/badge-check.ts) builds the same markup from /qr/verify's answer.
 */
import type { BadgeInvalidReason, BadgeVerdict } from '../../qr/badge-verifier.js';
import { dateWords, REASON_WORDS, reasonWords, roleWords } from '../badge-words.js';
import { html, type SafeHtml } from '../html.js';

// Fails to compile when the verifier gains a reason the words do not cover.
const _everyReasonHasWords: Record<BadgeInvalidReason, string> = REASON_WORDS;

export function verdictTitle(verdict: BadgeVerdict): string {
  return verdict.valid ? 'Valid badge' : 'Not valid';
}

export function verdictView(verdict: BadgeVerdict): SafeHtml {
  const facts = [
    verdict.username === null ? null : html`<dt>Name</dt><dd>${verdict.username}</dd>`,
    verdict.role === null ? null : html`<dt>Role</dt><dd>${roleWords(verdict.role)}</dd>`,
    verdict.issued_at === null ? null : html`<dt>Issued</dt><dd>${dateWords(verdict.issued_at)}</dd>`,
    verdict.expires_at === null ? null : html`<dt>Expires</dt><dd>${dateWords(verdict.expires_at)}</dd>`,
  ].filter((fact) => fact !== null);
  const reason = verdict.valid
    ? 'Made by this service, current, and its account is active.'
    : reasonWords(verdict.reason);
  return html`<section class="verdict ${verdict.valid ? 'valid' : 'invalid'}" aria-labelledby="verdict-word" data-reason="${verdict.reason ?? ''}">
  <h2 class="word" id="verdict-word"><span class="mark" aria-hidden="true">${verdict.valid ? '✓' : '✗'}</span> ${verdict.valid ? 'VALID' : 'NOT VALID'}</h2>
  ${facts.length > 0 ? html`<dl class="facts">${facts}</dl>` : ''}
  <p class="reason"><strong>${verdict.valid ? 'Why' : 'Reason'}:</strong> ${reason}</p>
</section>`;
}
