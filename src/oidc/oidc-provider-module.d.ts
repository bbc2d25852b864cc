/**
 * The small part of oidc-provider's API this service uses, typed: the package ships no types
 * (its DefinitelyTyped types lag the major version). Only what src/oidc/ calls is declared.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type AdapterPayload = Record<string, unknown> & {
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: unknown;
  };

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id: string; scope?: string; redirect_uri?: string };
    session?: { accountId: string; uid: string; cookie: string };
    grantId?: string;
    lastSubmission?: Record<string, unknown>;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
    jti: string;
    accountId: string;
    clientId: string;
  }

  export interface ClientInstance {
    clientId: string;
    clientName?: string;
    clientSecret?: string;
    scope?: string;
    redirectUris: string[];
    clientAuthMethod: string;
    metadata(): Record<string, unknown>;
    [key: string]: unknown;
  }

  export interface KoaContextish {
    oidc: Record<string, unknown> & {
      params?: Record<string, unknown>;
      client?: ClientInstance;
      session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
      result?: Record<string, unknown>;
      route?: string;
      entities: Record<string, unknown>;
    };
    cookies: {
      get(name: string, options?: { signed?: boolean }): string | undefined;
      set(name: string, value: string, options?: Record<string, unknown>): void;
    };
    req: IncomingMessage;
    method: string;
    path: string;
    status: number;
    body: unknown;
    type: string;
    ip: string;
    get(header: string): string;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    on(event: string, listener: (...args: never[]) => void): this;
    use(middleware: (ctx: KoaContextish, next: () => Promise<void>) => Promise<void>): void;
    Grant: { new (properties: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
    Client: { find(id: string): Promise<ClientInstance | undefined>; prototype: ClientInstance & { compareClientSecret(actual: string): boolean | Promise<boolean> } };
    Session: unknown;
  }

  export const interactionPolicy: {
    base(): Array<{ name: string; checks: { add(check: unknown, index?: number): void } }> & { get(name: string): { checks: { add(check: unknown, index?: number): void } } | undefined };
    Check: new (reason: string, description: string, check: (ctx: KoaContextish) => boolean | Promise<boolean>) => unknown;
  };

  export const errors: Record<string, new (...args: unknown[]) => Error>;

  export default Provider;
}
