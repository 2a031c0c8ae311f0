// Compiled by `tsc -p tests/types` against the built package's index.d.ts: code written for
// @azure/communication-calling and -common type-checks against rtcall with only the imports
// changed, and misuse is a type error (each @ts-expect-error must be needed, or tsc fails).
import { CallClient } from '@azure/communication-calling';
import {
  AzureCommunicationTokenCredential,
  CommunicationIdentifier,
  CommunicationIdentifierKind,
  CommunicationTokenCredential,
  createIdentifierFromRawId,
  getIdentifierKind,
  getIdentifierRawId,
  isCommunicationUserIdentifier,
  isPhoneNumberIdentifier,
} from '@azure/communication-common';
import type { CommunicationServicesError } from 'rtcall';

export async function usage(token: string, fetchToken: () => Promise<string>): Promise<void> {
  const staticCredential: CommunicationTokenCredential = new AzureCommunicationTokenCredential(token);
  const refreshing = new AzureCommunicationTokenCredential({
    tokenRefresher: async (abortSignal?: AbortSignal) => {
      abortSignal?.throwIfAborted();
      return fetchToken();
    },
    token,
    refreshProactively: true,
  });
  const { token: jwt, expiresOnTimestamp }: { token: string; expiresOnTimestamp: number } =
    await refreshing.getToken({ abortSignal: new AbortController().signal });
  staticCredential.dispose();

  new CallClient();
  new CallClient({ networkConfiguration: { turn: { iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }] } } });

  const kind: CommunicationIdentifierKind = createIdentifierFromRawId('4:+14255550123');
  if (kind.kind === 'phoneNumber') {
    const number: string = kind.phoneNumber;
    void number;
  }
  const someone: CommunicationIdentifier = { communicationUserId: '8:echo123' };
  const raw: string = getIdentifierRawId(someone);
  if (isCommunicationUserIdentifier(someone)) {
    const id: string = someone.communicationUserId;
    void id;
  }
  void isPhoneNumberIdentifier({ phoneNumber: '+1' });
  void getIdentifierKind({ id: raw });

  try {
    new AzureCommunicationTokenCredential('');
  } catch (e) {
    const error = e as CommunicationServicesError;
    const codes: [number, number] = [error.code, error.subCode];
    void codes;
  }
  void jwt;
  void expiresOnTimestamp;

  // @ts-expect-error: a refresher must return a promise of a string
  new AzureCommunicationTokenCredential({ tokenRefresher: () => 42 });
  // @ts-expect-error: identifiers are objects
  getIdentifierRawId('8:echo123');
  // @ts-expect-error: iceServers need urls
  new CallClient({ networkConfiguration: { turn: { iceServers: [{ username: 'u' }] } } });
}
