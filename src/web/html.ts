/**
 * HTML for the web pages, written as TypeScript: `html` tagged templates whose interpolations are
 * escaped unless they are themselves `html` (or `raw`, for markup the service drew itself, such
 * as a QR code's SVG). Every view is a typed function, checked by the compiler like the rest of
 * the code, and nothing is evaluated at run time (no template files, no `new Function`).
 */

/** Markup that is already safe to place in a page. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML: safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** What may be interpolated: text (escaped), markup, lists of either; null, undefined and false vanish. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] as string;
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] as string);
  return new SafeHtml(out);
}

/** Trusted markup as it is (the service's own SVG): never anything a user typed. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
