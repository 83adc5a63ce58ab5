/**
 * Sign-in to Microsoft Graph for the OneDrive/SharePoint target (F3, F4) through @azure/msal-node:
 * app sign-in (client credentials: a client secret or a certificate) or user sign-in (device code
 * flow; the token cache, refresh token included, is kept sealed by the caller). Every request goes
 * through callseal's own HTTPS client (bounded answers, an optional extra CA). A sign-in that
 * expired or lost its consent is a `TargetError` with stage `auth` and a text that tells the admin
 * what to do, and is reported once through `onSignInLost` until a token is had again.
 */
import {
  ConfidentialClientApplication, LogLevel, PublicClientApplication, type AccountInfo, type Configuration, type ICachePlugin,
  type INetworkModule, type NetworkRequestOptions, type NetworkResponse,
} from '@azure/msal-node';
import { X509Certificate } from 'node:crypto';
import { httpsCall } from './https.ts';
import { TargetError } from './target.ts';

/** What the sign-in needs from the target's configuration. */
export interface GraphAuthConfig {
  readonly signIn: 'app' | 'user';
  /** Directory (tenant) id or domain. */
  readonly tenant: string;
  readonly clientId: string;
  readonly clientSecret?: string | undefined;
  /** App sign-in with a certificate: the certificate and its private key (PEM). */
  readonly certificatePem?: string | undefined;
  readonly privateKeyPem?: string | undefined;
  /** `https://login.microsoftonline.com` unless a national cloud or a test server. */
  readonly authorityHost: string;
  /** `https://graph.microsoft.com/v1.0`; its origin names the resource the token is for. */
  readonly graphBaseUrl: string;
}

/** Where the user sign-in's token cache is kept (sealed). */
export interface TokenCacheStore {
  load(): string | undefined;
  save(serialized: string): void;
}

/** Options of {@link GraphAuth}. */
export interface GraphAuthOptions {
  /** Extra trusted CA certificates (PEM). */
  readonly ca?: string | undefined;
  readonly cache?: TokenCacheStore | undefined;
  /** Called once when a sign-in stops working, until a token is had again (F4 alert). */
  readonly onSignInLost?: ((message: string) => void) | undefined;
}

/** What the admin is shown to complete a device code sign-in. */
export interface DeviceCodePrompt {
  readonly userCode: string;
  readonly verificationUri: string;
  readonly message: string;
  readonly expiresInSec: number;
}

/** The state of the user sign-in. */
export interface SignInState {
  readonly state: 'none' | 'pending' | 'signed-in' | 'failed';
  readonly account?: string;
  readonly message?: string;
}

/** Microsoft's AADSTS codes an admin can act on, with what to do. */
const AADSTS: readonly (readonly [RegExp, string])[] = [
  [/AADSTS65001/, 'consent for the app was revoked or never given: an administrator must grant its Microsoft Graph permissions again'],
  [/AADSTS700082|AADSTS700084|AADSTS50173|AADSTS50132/, 'the sign-in expired or was revoked: sign in again with the device code'],
  [/AADSTS7000222/, 'the client secret expired: create a new one in the app registration and enter it'],
  [/AADSTS7000215/, 'the client secret is wrong'],
  [/AADSTS700027|AADSTS700024/, 'the certificate was not accepted: upload it to the app registration, check its validity'],
  [/AADSTS700016/, 'the app (client id) is not known in this tenant'],
  [/AADSTS90002|AADSTS900023/, 'the tenant is not known'],
  [/AADSTS50076|AADSTS50079|interaction_required/, 'the account needs an interactive sign-in (multi-factor authentication): sign in again with the device code'],
  [/invalid_grant/, 'the sign-in expired or was revoked: sign in again with the device code'],
  [/invalid_client/, 'the app credentials were refused'],
];

interface MsalFailure { errorCode?: string; errorMessage?: string; subError?: string; message?: string }

/** A Microsoft Graph sign-in. */
export class GraphAuth {
  readonly #c: GraphAuthConfig;
  readonly #o: GraphAuthOptions;
  readonly #scopes: string[];
  readonly #app: ConfidentialClientApplication | undefined;
  readonly #user: PublicClientApplication | undefined;
  /** The last network failure seen, which MSAL reports only as `network_error`. */
  #networkError: TargetError | undefined;
  #lostReported = false;
  #signIn: SignInState = { state: 'none' };

  constructor(config: GraphAuthConfig, options: GraphAuthOptions = {}) {
    this.#c = config;
    this.#o = options;
    const resource = new URL(config.graphBaseUrl).origin;
    this.#scopes = config.signIn === 'app' ? [`${resource}/.default`] : [`${resource}/Files.ReadWrite.All`];
    const network: INetworkModule = {
      sendGetRequestAsync: <T>(url: string, o?: NetworkRequestOptions) => this.#send<T>('GET', url, o),
      sendPostRequestAsync: <T>(url: string, o?: NetworkRequestOptions) => this.#send<T>('POST', url, o),
    };
    const base: Configuration = {
      auth: { clientId: config.clientId, authority: `${config.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(config.tenant)}`, knownAuthorities: [new URL(config.authorityHost).host] },
      system: { networkClient: network, loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined } },
    };
    if (config.signIn === 'app') {
      const cert = config.certificatePem !== undefined && config.privateKeyPem !== undefined ? new X509Certificate(config.certificatePem) : undefined;
      if (!cert && config.clientSecret === undefined) throw new TargetError('config', 'app sign-in needs a client secret or a certificate with its private key');
      this.#app = new ConfidentialClientApplication({
        ...base,
        auth: {
          ...base.auth,
          ...(cert ? { clientCertificate: { thumbprintSha256: cert.fingerprint256.replace(/:/g, ''), privateKey: config.privateKeyPem ?? '', x5c: cert.toString() } } : { clientSecret: config.clientSecret ?? '' }),
        },
      });
    } else {
      const store = options.cache;
      const plugin: ICachePlugin | undefined = store && {
        beforeCacheAccess: (ctx) => {
          const saved = store.load();
          if (saved !== undefined) ctx.tokenCache.deserialize(saved);
          return Promise.resolve();
        },
        afterCacheAccess: (ctx) => {
          if (ctx.cacheHasChanged) store.save(ctx.tokenCache.serialize());
          return Promise.resolve();
        },
      };
      this.#user = new PublicClientApplication({ ...base, ...(plugin ? { cache: { cachePlugin: plugin } } : {}) });
    }
  }

  async #send<T>(method: string, url: string, o: NetworkRequestOptions | undefined): Promise<NetworkResponse<T>> {
    try {
      const a = await httpsCall({ method, url, headers: o?.headers ?? {}, body: o?.body, ca: this.#o.ca, timeoutMs: 30_000 });
      this.#networkError = undefined;
      let body: unknown;
      try {
        body = JSON.parse(a.body.toString('utf8'));
      } catch {
        body = { error: 'invalid_response', error_description: `not JSON (HTTP ${a.status})` };
      }
      return { status: a.status, headers: { ...a.headers }, body: body as T };
    } catch (err) {
      if (err instanceof TargetError) this.#networkError = err;
      throw err;
    }
  }

  /** Maps an MSAL failure to a target error with a text an admin can act on. */
  #failure(err: unknown): TargetError {
    if (err instanceof TargetError) return err;
    const e = (err ?? {}) as MsalFailure;
    const code = e.errorCode ?? '';
    if (this.#networkError && /network|openid_config|endpoints_resolution|timeout/i.test(code)) return this.#networkError;
    const text = `${code} ${e.subError ?? ''} ${e.errorMessage ?? e.message ?? ''}`;
    const known = AADSTS.find(([re]) => re.test(text));
    const detail = (e.errorMessage ?? e.message ?? '').split('\n')[0]?.slice(0, 300) ?? '';
    if (known) return new TargetError('auth', `Microsoft sign-in (${this.#c.signIn}): ${known[1]} [${detail}]`, { cause: err });
    return new TargetError(/untrusted_authority|url_parse|authority/i.test(code) ? 'config' : 'auth', `Microsoft sign-in (${this.#c.signIn}): ${code || 'failed'}: ${detail}`, { cause: err });
  }

  #lost(err: TargetError): TargetError {
    if (err.stage === 'auth' && !this.#lostReported) {
      this.#lostReported = true;
      this.#o.onSignInLost?.(err.message);
    }
    return err;
  }

  async #account(): Promise<AccountInfo | undefined> {
    const accounts = await this.#user?.getTokenCache().getAllAccounts();
    return accounts?.[0];
  }

  /** A bearer token for Graph (cached by MSAL until shortly before it expires). */
  async token(): Promise<string> {
    // Never signed in is not a lost sign-in: no alert for it.
    const account = this.#user ? await this.#account() : undefined;
    if (this.#user && !account) throw new TargetError('auth', 'Microsoft sign-in (user): nobody signed in yet: use "Sign in" and enter the code shown at the address shown');
    try {
      let accessToken: string | undefined;
      if (this.#app) accessToken = (await this.#app.acquireTokenByClientCredential({ scopes: this.#scopes }))?.accessToken;
      else if (this.#user && account) accessToken = (await this.#user.acquireTokenSilent({ account, scopes: this.#scopes })).accessToken;
      if (accessToken === undefined || accessToken === '') throw new TargetError('auth', `Microsoft sign-in (${this.#c.signIn}): no access token in the answer`);
      this.#lostReported = false;
      return accessToken;
    } catch (err) {
      throw this.#lost(this.#failure(err));
    }
  }

  /**
   * Starts a device code sign-in (user sign-in): resolves with the code to show; the sign-in then
   * completes in the background when the user has entered it ({@link signInState}).
   */
  startDeviceCode(): Promise<DeviceCodePrompt> {
    const user = this.#user;
    if (!user) return Promise.reject(new TargetError('config', 'device code sign-in is for user sign-in targets'));
    return new Promise((resolve, reject) => {
      let prompted = false;
      this.#signIn = { state: 'pending' };
      user.acquireTokenByDeviceCode({
        scopes: this.#scopes,
        deviceCodeCallback: (r) => {
          prompted = true;
          resolve({ userCode: r.userCode, verificationUri: r.verificationUri, message: r.message, expiresInSec: r.expiresIn });
        },
      }).then((result) => {
        this.#lostReported = false;
        this.#signIn = { state: 'signed-in', ...(result?.account?.username !== undefined ? { account: result.account.username } : {}) };
      }, (err: unknown) => {
        const failure = this.#failure(err);
        this.#signIn = { state: 'failed', message: failure.message };
        if (!prompted) reject(failure);
      });
    });
  }

  /** The user sign-in's state: signed in (cached account), pending, failed, or none. */
  async signInState(): Promise<SignInState> {
    if (this.#signIn.state !== 'none') return this.#signIn;
    const account = await this.#account().catch(() => undefined);
    return account ? { state: 'signed-in', account: account.username } : { state: 'none' };
  }
}
