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

export function clonePsk(token: string): Buffer {
  return createHmac("sha256", token).update(PSK_LABEL).digest();
}

const channelSettings = { ciphers: CIPHER_SUITE, minVersion: "TLSv1.3", maxVersion: "TLSv1.3" } as const;

/** Wraps an accepted TCP connection; emits 'secure' once the peer has proven it holds the token. */
export function acceptCloneChannel(raw: Socket, token: string): TLSSocket {
  const psk = clonePsk(token);
  // Node's TLSSocket honours pskCallback for a server socket; @types/node lists it on TlsOptions only.
  const options: TLSSocketOptions & Pick<TlsOptions, "pskCallback"> = {
    isServer: true,
    secureContext: createSecureContext(channelSettings),
    pskCallback: (_socket, identity) => (identity === PSK_IDENTITY ? psk : null),
  };
  return new TLSSocket(raw, options);
}

/** Connects to a donor agent; emits 'secureConnect' once the donor has proven it holds the token. */
export function openCloneChannel(address: string, port: number, token: string): TLSSocket {
  const psk = clonePsk(token);
  return connect({
    host: address,
    port,
    ...channelSettings,
    pskCallback: () => ({ psk, identity: PSK_IDENTITY }),
    // There is no certificate: the PSK handshake is what authenticates the donor.
    checkServerIdentity: () => undefined,
  });
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
