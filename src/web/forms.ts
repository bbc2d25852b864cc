/**
 * Form pieces every page uses, accessible by construction: each input has its label; a hint and
 * an error are tied to it with aria-describedby (the error also sets aria-invalid), so a screen
 * reader reads them with the field (keycloak#36480 was exactly this missing); a page with errors
 * starts with a summary linking to each field, and its title says "Error:" (the GOV.UK pattern).
 */
import { CSRF_FIELD } from './csrf.js';
import { html, type SafeHtml } from './html.js';

export interface FieldError {
  /** The field's name (its id is `f-<name>`); '' for an error about the whole form. */
  field: string;
  message: string;
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'search' | 'number' | 'url';
  value?: string | null;
  autocomplete?: string;
  required?: boolean;
  hint?: string;
  errors?: readonly FieldError[];
  inputmode?: 'numeric' | 'text' | 'email';
  minlength?: number;
  maxlength?: number;
  pattern?: string;
  autofocus?: boolean;
  spellcheck?: boolean;
}

export const fieldId = (name: string) => `f-${name}`;

export function field(spec: FieldSpec): SafeHtml {
  const id = fieldId(spec.name);
  const error = spec.errors?.find((e) => e.field === spec.name)?.message;
  const describedBy = [spec.hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field${error ? ' has-error' : ''}">
  <label for="${id}">${spec.label}</label>
  ${spec.hint ? html`<p class="hint" id="${id}-hint">${spec.hint}</p>` : ''}
  ${error ? html`<p class="error" id="${id}-error"><span class="visually-hidden">Error:</span> ${error}</p>` : ''}
  <input id="${id}" name="${spec.name}" type="${spec.type ?? 'text'}"${spec.value ? html` value="${spec.value}"` : ''}${
    spec.autocomplete ? html` autocomplete="${spec.autocomplete}"` : ''
  }${spec.required ? html` required` : ''}${spec.inputmode ? html` inputmode="${spec.inputmode}"` : ''}${
    spec.minlength !== undefined ? html` minlength="${spec.minlength}"` : ''
  }${spec.maxlength !== undefined ? html` maxlength="${spec.maxlength}"` : ''}${spec.pattern ? html` pattern="${spec.pattern}"` : ''}${
    spec.autofocus ? html` autofocus` : ''
  }${spec.spellcheck === false ? html` spellcheck="false" autocapitalize="none"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${
    error ? html` aria-invalid="true"` : ''
  }>
</div>`;
}

/** The list of what is wrong, first on the page; each entry jumps to its field. */
export function errorSummary(errors: readonly FieldError[]): SafeHtml {
  if (errors.length === 0) return html``;
  const items = errors.map((e) =>
    e.field === '' ? html`<li>${e.message}</li>` : html`<li><a href="#${fieldId(e.field)}">${e.message}</a></li>`,
  );
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
  <h2 id="error-summary-title">There is a problem</h2>
  <ul>${items}</ul>
</div>`;
}

/** A page title that says when the form came back with errors. */
export const titleWithErrors = (title: string, errors: readonly FieldError[]) => (errors.length > 0 ? `Error: ${title}` : title);

export function csrfInput(token: string): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
}

/** A notice at the top of a page: what just happened (role status), or a warning. */
export function notice(kind: 'success' | 'info' | 'warning', text: SafeHtml | string): SafeHtml {
  return html`<div class="notice ${kind}" role="status">${text}</div>`;
}

/**
 * A form's text field from a parsed body: strings only (a repeated field, or anything else, counts
 * as missing), trimmed unless `keepSpaces` (passwords). Lengths are the services' to check: a
 * value is never cut short (a cut password would be a different password).
 */
export function textField(body: unknown, name: string, options: { keepSpaces?: boolean } = {}): string {
  const value = (body as Record<string, unknown> | null | undefined)?.[name];
  if (typeof value !== 'string') return '';
  return options.keepSpaces ? value : value.trim();
}
