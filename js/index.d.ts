// Types of the rtcall package: the names and shapes of @azure/communication-calling and
// @azure/communication-common that rtcall implements so far.

// ---- Identifiers (@azure/communication-common) ----

/** An ACS user (`8:acs:…`) or a service bot such as `8:echo123`. */
export interface CommunicationUserIdentifier {
  communicationUserId: string;
}
/** A phone number in E.164 form. */
export interface PhoneNumberIdentifier {
  phoneNumber: string;
  rawId?: string;
}
/** A Microsoft Teams user. */
export interface MicrosoftTeamsUserIdentifier {
  microsoftTeamsUserId: string;
  isAnonymous?: boolean;
  cloud?: 'public' | 'dod' | 'gcch';
  rawId?: string;
}
/** A Microsoft Teams app (bot). */
export interface MicrosoftTeamsAppIdentifier {
  teamsAppId: string;
  cloud?: 'public' | 'dod' | 'gcch';
  rawId?: string;
}
/** Any other identifier, by raw id. */
export interface UnknownIdentifier {
  id: string;
}
export type CommunicationIdentifier =
  | CommunicationUserIdentifier
  | PhoneNumberIdentifier
  | MicrosoftTeamsUserIdentifier
  | MicrosoftTeamsAppIdentifier
  | UnknownIdentifier;

export interface CommunicationUserKind extends CommunicationUserIdentifier {
  kind: 'communicationUser';
}
export interface PhoneNumberKind extends PhoneNumberIdentifier {
  kind: 'phoneNumber';
}
export interface MicrosoftTeamsUserKind extends MicrosoftTeamsUserIdentifier {
  kind: 'microsoftTeamsUser';
}
export interface MicrosoftTeamsAppKind extends MicrosoftTeamsAppIdentifier {
  kind: 'microsoftTeamsApp';
}
export interface UnknownIdentifierKind extends UnknownIdentifier {
  kind: 'unknown';
}
export type CommunicationIdentifierKind =
  | CommunicationUserKind
  | PhoneNumberKind
  | MicrosoftTeamsUserKind
  | MicrosoftTeamsAppKind
  | UnknownIdentifierKind;

/** Parses a raw id (`8:acs:…`, `4:+1…`, `8:orgid:…`, `28:orgid:…`) into an identifier. */
export declare function createIdentifierFromRawId(rawId: string): CommunicationIdentifierKind;
/** The raw id of an identifier. */
export declare function getIdentifierRawId(identifier: CommunicationIdentifier): string;
/** The identifier with its `kind`. */
export declare function getIdentifierKind(identifier: CommunicationIdentifier): CommunicationIdentifierKind;
export declare function isCommunicationUserIdentifier(
  identifier: CommunicationIdentifier,
): identifier is CommunicationUserIdentifier;
export declare function isPhoneNumberIdentifier(identifier: CommunicationIdentifier): identifier is PhoneNumberIdentifier;
export declare function isMicrosoftTeamsUserIdentifier(
  identifier: CommunicationIdentifier,
): identifier is MicrosoftTeamsUserIdentifier;
export declare function isMicrosoftTeamsAppIdentifier(
  identifier: CommunicationIdentifier,
): identifier is MicrosoftTeamsAppIdentifier;
export declare function isUnknownIdentifier(identifier: CommunicationIdentifier): identifier is UnknownIdentifier;

// ---- Credentials (@azure/communication-common) ----

/** A token and its expiry in milliseconds since the Unix epoch. */
export interface AccessToken {
  token: string;
  expiresOnTimestamp: number;
}
export interface CommunicationGetTokenOptions {
  /** An already aborted signal makes `getToken` reject. */
  abortSignal?: AbortSignal;
}
/** What `createCallAgent` accepts: anything that hands out tokens. */
export interface CommunicationTokenCredential {
  getToken(options?: CommunicationGetTokenOptions): Promise<AccessToken>;
  dispose(): void;
}
export interface CommunicationTokenRefreshOptions {
  /** Fetches a fresh token; the signal aborts when the credential is disposed. */
  tokenRefresher: (abortSignal?: AbortSignal) => Promise<string>;
  /** A token to start with. */
  token?: string;
  /** Refresh on a timer before expiry instead of only when `getToken` needs it. */
  refreshProactively?: boolean;
}
/** An access-token credential: a static token, or a refresher. */
export declare class AzureCommunicationTokenCredential implements CommunicationTokenCredential {
  constructor(token: string);
  constructor(options: CommunicationTokenRefreshOptions);
  getToken(options?: CommunicationGetTokenOptions): Promise<AccessToken>;
  dispose(): void;
}

// ---- Errors ----

/** What every rtcall method throws or rejects with. */
export interface CommunicationServicesError extends Error {
  name: 'CommunicationServicesError';
  /** HTTP-like class: 400 bad argument, 401 token problem, 409 wrong state, … */
  code: number;
  /** Exactly which error. */
  subCode: number;
}

// ---- Calling (@azure/communication-calling) ----

export interface CallClientOptions {
  /** Accepted for compatibility; rtcall logs to the console. */
  logger?: unknown;
  /** Accepted for compatibility. */
  diagnostics?: { appName?: string; appVersion?: string; tags?: string[] };
  networkConfiguration?: {
    turn?: { iceServers: { urls: string | string[]; username?: string; credential?: string }[] };
    proxy?: { url: string };
  };
}
/** The entry object. */
export declare class CallClient {
  constructor(options?: CallClientOptions);
}
