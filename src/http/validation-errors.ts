/**
 * Schema validation failures in FastAPI's shape, `422 {"detail": [{"loc", "msg", "type"}]}`, so
 * the old service's clients read them unchanged.
 */
import type { FastifySchemaValidationError } from 'fastify';
import type { ValidationIssue } from '../errors.js';

const LOCATIONS: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

function describe(e: FastifySchemaValidationError): { msg: string; type: string; extra?: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { msg: 'Field required', type: 'missing', extra: String(p.missingProperty) };
    case 'additionalProperties':
      return { msg: 'Extra inputs are not permitted', type: 'extra_forbidden', extra: String(p.additionalProperty) };
    case 'type':
      return { msg: `Input should be a valid ${String(p.type)}`, type: `${String(p.type)}_type` };
    case 'minLength':
      return { msg: `String should have at least ${String(p.limit)} characters`, type: 'string_too_short' };
    case 'maxLength':
      return { msg: `String should have at most ${String(p.limit)} characters`, type: 'string_too_long' };
    case 'pattern':
      return { msg: 'String contains characters or a form that is not allowed', type: 'string_pattern_mismatch' };
    case 'format':
      return p.format === 'email'
        ? { msg: 'value is not a valid email address', type: 'value_error' }
        : { msg: `Input should be a valid ${String(p.format)}`, type: 'value_error' };
    case 'enum':
      return {
        msg: `Input should be ${(p.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(', ')}`,
        type: 'enum',
      };
    case 'minimum':
      return { msg: `Input should be greater than or equal to ${String(p.limit)}`, type: 'greater_than_equal' };
    case 'maximum':
      return { msg: `Input should be less than or equal to ${String(p.limit)}`, type: 'less_than_equal' };
    default:
      return { msg: e.message ?? 'Invalid input', type: 'value_error' };
  }
}

export function toValidationIssues(
  validation: FastifySchemaValidationError[],
  context: string | undefined,
): ValidationIssue[] {
  return validation.map((e) => {
    const { msg, type, extra } = describe(e);
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const loc: (string | number)[] = [LOCATIONS[context ?? 'body'] ?? 'body', ...path];
    if (extra !== undefined) loc.push(extra);
    return { loc, msg, type };
  });
}
