import { createHmac } from "node:crypto";
import type { Socket } from "node:net";
import { connect, createSecureContext, TLSSocket, type TlsOptions, type TLSSocketOptions } from "node:tls";

/**
 * The clone stream's channel: TLS 1.3 keyed by the site's clone token (a pre-shared key, RFC 8446
 * §2.2 with an ephemeral key exchange, so a recorded stream cannot be decrypted later even with
 * the token). Both ends prove they hold the token before a byte of data flows: a peer without it
 * fails the handshake ("binder does not verify") and gets nothing, and a client will not stream
 * into an impostor donor, because the server's Finished message is keyed by the same secret.
 * No certificate is involved, so there is nothing to issue, rotate or let expire; the token
 * already lives in the site's Secret (Kubernetes) or secrets.json (local).
 */

/** The one suite OpenSSL 3.0 accepts with Node's PSK callback in TLS 1.3 (SHA-256 suites only). */
const CIPHER_SUITE = "TLS_AES_128_GCM_SHA256";
const PSK_IDENTITY = "hapress-clone-v2";
/** Domain separation: the key used on the wire is derived from the token, never the token itself. */
const PSK_LABEL = "hapress clone stream psk v2";
/**
 * The server watch (a subscriber learns the moment the agent's mariadbd exits) has a key of its own,
 * derived from the token too: the controller holds this key and can subscribe, but it cannot take a
 * backup of the site's data, which only the clone token allows.
 */
const WATCH_IDENTITY = "hapress-watch-v1";
const WATCH_LABEL = "hapress server watch psk v1";

/** What a connection proved it may ask for, by the key it holds. */
export type ChannelPurpose = "clone" | "watch";

export function clonePsk(token: string): Buffer {
  return createHmac("sha256", token).update(PSK_LABEL).digest();
}

/** The server watch's key (the controller's Secret holds it in hex). */
export function serverWatchKey(token: string): Buffer {
  return createHmac("sha256", token).update(WATCH_LABEL).digest();
}

const channelSettings = { ciphers: CIPHER_SUITE, minVersion: "TLSv1.3", maxVersion: "TLSv1.3" } as const;

/**
 * Wraps an accepted TCP connection; emits 'secure' once the peer has proven it holds the token (a
 * clone) or the watch key (a watch); `purpose()` then says which.
 */
export function acceptAgentChannel(
  raw: Socket,
  token: string,
): { socket: TLSSocket; purpose: () => ChannelPurpose | null } {
  const keys = new Map<string, { purpose: ChannelPurpose; psk: Buffer }>([
    [PSK_IDENTITY, { purpose: "clone", psk: clonePsk(token) }],
    [WATCH_IDENTITY, { purpose: "watch", psk: serverWatchKey(token) }],
  ]);
  let offered: ChannelPurpose | null = null;
  // Node's TLSSocket honours pskCallback for a server socket; @types/node lists it on TlsOptions only.
  const options: TLSSocketOptions & Pick<TlsOptions, "pskCallback"> = {
    isServer: true,
    secureContext: createSecureContext(channelSettings),
    pskCallback: (_socket, identity) => {
      const key = keys.get(identity);
      offered = key?.purpose ?? null;
      return key?.psk ?? null;
    },
  };
  const socket = new TLSSocket(raw, options);
  // The identity is only a claim until the handshake completes with its key: ask after 'secure'.
  return { socket, purpose: () => offered };
}

function openChannel(address: string, port: number, psk: Buffer, identity: string): TLSSocket {
  return connect({
    host: address,
    port,
    ...channelSettings,
    pskCallback: () => ({ psk, identity }),
    // There is no certificate: the PSK handshake is what authenticates the agent.
    checkServerIdentity: () => undefined,
  });
}

/** Connects to a donor agent; emits 'secureConnect' once the donor has proven it holds the token. */
export function openCloneChannel(address: string, port: number, token: string): TLSSocket {
  return openChannel(address, port, clonePsk(token), PSK_IDENTITY);
}

/** Connects to an agent's server watch with the watch key (see serverWatchKey). */
export function openWatchChannel(address: string, port: number, key: Buffer): TLSSocket {
  return openChannel(address, port, key, WATCH_IDENTITY);
}

/** A readable reason for a failed handshake: the usual cause is a different clone token. */
export function describeHandshakeFailure(error: Error & { code?: string }): string {
  const code = error.code ?? "";
  if (/BINDER|DECRYPT|ILLEGAL_PARAMETER|HANDSHAKE_FAILURE|NO_SHARED_CIPHER|BAD_RECORD_MAC/.test(code))
    return `the TLS handshake failed: the peer does not hold this site's clone token (${code})`;
  if (code.startsWith("ERR_SSL"))
    return `the TLS handshake failed: not a hapress clone channel of this version (${code})`;
  return error.message;
}
