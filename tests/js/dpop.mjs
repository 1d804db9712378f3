// Drives panva's openid-client (v6) against gatehouse to exercise DPoP (RFC 9449).
//
// A Rust integration test spawns this script and talks to it in lines over stdin/stdout;
// see README.md for the protocol. Stderr is a human-readable log without token values.

import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import * as client from 'openid-client';

// ---------------------------------------------------------------------------------------------
// Output helpers

function out(line) {
  process.stdout.write(`${line}\n`);
}

function log(...args) {
  console.error('[dpop.mjs]', ...args);
}

function oneLine(s) {
  return String(s).replace(/\s+/g, ' ').trim();
}

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// JWT / thumbprint helpers (no verification: the AS is trusted, we only inspect claims)

function b64uDecodeJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function jwtPayload(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) throw new Error('access token is not a compact JWS');
  return b64uDecodeJson(parts[1]);
}

// RFC 7638 thumbprint of an EC public key: required members in lexicographic order, no spaces.
async function ecThumbprint(publicKey) {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  if (jwk.kty !== 'EC') throw new Error(`unexpected DPoP key type ${jwk.kty}`);
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function cnfJkt(accessToken) {
  try {
    return jwtPayload(accessToken)?.cnf?.jkt;
  } catch (err) {
    log(`could not decode access token: ${err.message}`);
    return undefined;
  }
}

// The OAuth error code carried by an openid-client / oauth4webapi error, or its message.
function oauthError(err) {
  if (typeof err?.error === 'string' && err.error) return err.error; // ResponseBodyError
  if (err instanceof client.WWWAuthenticateChallengeError && Array.isArray(err.cause)) {
    for (const challenge of err.cause) {
      if (challenge?.parameters?.error) return challenge.parameters.error;
    }
  }
  return oneLine(err?.message ?? err);
}

function errorStatus(err) {
  if (typeof err?.status === 'number') return err.status;
  if (typeof err?.response?.status === 'number') return err.response.status;
  if (typeof err?.cause?.status === 'number') return err.cause.status; // ClientError(cause: Response)
  return null;
}

function describeError(err) {
  const bits = [`${err?.name ?? 'Error'}: ${err?.message ?? err}`];
  if (err?.code) bits.push(`code=${err.code}`);
  if (err?.error) bits.push(`error=${err.error}`);
  if (err?.error_description) bits.push(`error_description=${err.error_description}`);
  const status = errorStatus(err);
  if (status !== null) bits.push(`status=${status}`);
  if (err?.cause?.message) bits.push(`cause=${err.cause.message}`);
  return oneLine(bits.join(' '));
}

// ---------------------------------------------------------------------------------------------
// Logging fetch (openid-client's customFetch). Logs method, URL without query, status and the
// DPoP-relevant headers; never token values. Also remembers the raw token_type of token
// endpoint responses (openid-client lower-cases it in the result).

let tokenEndpoint;
let lastWireTokenType;

function describeProof(proof) {
  try {
    const [h, p] = proof.split('.');
    const header = b64uDecodeJson(h);
    const payload = b64uDecodeJson(p);
    return (
      `dpop{alg=${header.alg} typ=${header.typ} htm=${payload.htm} htu=${payload.htu} ` +
      `nonce=${payload.nonce === undefined ? 'none' : 'yes'} ath=${payload.ath === undefined ? 'no' : 'yes'}}`
    );
  } catch {
    return 'dpop{undecodable}';
  }
}

async function loggingFetch(url, options) {
  const u = new URL(url);
  const headers = new Headers(options?.headers);
  const method = options?.method ?? 'GET';
  const auth = headers.get('authorization');
  const parts = [`-> ${method} ${u.origin}${u.pathname}`];
  if (auth) parts.push(`auth=${auth.split(' ')[0]}`);
  if (headers.has('dpop')) parts.push(describeProof(headers.get('dpop')));
  log(parts.join(' '));

  const response = await fetch(url, options);

  const rparts = [`<- ${response.status} ${method} ${u.origin}${u.pathname}`];
  const nonce = response.headers.get('dpop-nonce');
  if (nonce) rparts.push('dpop-nonce=present');
  const wwwAuth = response.headers.get('www-authenticate');
  if (wwwAuth) rparts.push(`www-authenticate=${oneLine(wwwAuth)}`);
  const contentType = response.headers.get('content-type');
  if (contentType?.startsWith('application/json')) {
    try {
      const body = await response.clone().json();
      if (typeof body?.error === 'string') {
        rparts.push(`error=${body.error}`);
        if (body.error_description) rparts.push(`(${oneLine(body.error_description)})`);
      }
      if (tokenEndpoint && `${u.origin}${u.pathname}` === tokenEndpoint && response.status === 200) {
        lastWireTokenType = body?.token_type;
        rparts.push(`token_type=${body?.token_type}`);
      }
    } catch {
      // not JSON after all; openid-client will complain if it matters
    }
  }
  log(rparts.join(' '));
  return response;
}

// ---------------------------------------------------------------------------------------------
// stdin lines

const rl = createInterface({ input: process.stdin, terminal: false });
const pendingLines = [];
const lineWaiters = [];
let stdinClosed = false;
rl.on('line', (line) => {
  const waiter = lineWaiters.shift();
  if (waiter) waiter.resolve(line);
  else pendingLines.push(line);
});
rl.on('close', () => {
  stdinClosed = true;
  for (const waiter of lineWaiters.splice(0)) waiter.reject(new Error('stdin closed'));
});

function nextLine() {
  if (pendingLines.length) return Promise.resolve(pendingLines.shift());
  if (stdinClosed) return Promise.reject(new Error('stdin closed'));
  return new Promise((resolve, reject) => lineWaiters.push({ resolve, reject }));
}

async function waitFor(prefix) {
  for (;;) {
    const line = (await nextLine()).trim();
    if (line === '') continue;
    if (line.startsWith(`${prefix} `)) return line.slice(prefix.length + 1).trim();
    throw new Error(`expected a "${prefix} ..." line on stdin, got: ${line.slice(0, 80)}`);
  }
}

// ---------------------------------------------------------------------------------------------

async function expectFailure(what, promise) {
  try {
    await promise;
  } catch (err) {
    log(`${what} failed as expected: ${describeError(err)}`);
    return { error: oauthError(err), status: errorStatus(err) };
  }
  throw new Error(`${what} unexpectedly succeeded`);
}

async function main() {
  const issuer = new URL(env('ISSUER'));
  const ccClientId = env('CC_CLIENT_ID');
  const ccClientSecret = env('CC_CLIENT_SECRET');
  const publicClientId = env('PUBLIC_CLIENT_ID');
  const redirectUri = env('REDIRECT_URI');

  const discoveryOptions = {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: loggingFetch,
  };

  // Confidential client: client_secret_basic.
  const cc = await client.discovery(
    issuer,
    ccClientId,
    { client_secret: ccClientSecret },
    client.ClientSecretBasic(),
    discoveryOptions,
  );
  // Public client: token_endpoint_auth_method none.
  const pub = await client.discovery(issuer, publicClientId, undefined, client.None(), discoveryOptions);

  const metadata = cc.serverMetadata();
  tokenEndpoint = metadata.token_endpoint ? (() => {
    const t = new URL(metadata.token_endpoint);
    return `${t.origin}${t.pathname}`;
  })() : undefined;
  log(`discovered issuer=${metadata.issuer} dpop_signing_alg_values_supported=` +
    JSON.stringify(metadata.dpop_signing_alg_values_supported ?? null));

  // --- a. client credentials grant, DPoP-bound -----------------------------------------------
  const ccKeys = await client.randomDPoPKeyPair('ES256');
  const ccDPoP = client.getDPoPHandle(cc, ccKeys);
  const ccJkt = await ecThumbprint(ccKeys.publicKey);
  const ccLibJkt = await ccDPoP.calculateThumbprint?.();
  if (ccLibJkt && ccLibJkt !== ccJkt) log(`WARNING: own thumbprint ${ccJkt} != openid-client's ${ccLibJkt}`);

  lastWireTokenType = undefined;
  const ccTokens = await client.clientCredentialsGrant(cc, { scope: 'read' }, { DPoP: ccDPoP });
  out(`CC ${JSON.stringify({
    token_type: ccTokens.token_type,
    wire_token_type: lastWireTokenType ?? null,
    jkt_matches: cnfJkt(ccTokens.access_token) === ccJkt,
  })}`);

  // --- b. introspection ----------------------------------------------------------------------
  const introspection = await client.tokenIntrospection(cc, ccTokens.access_token);
  out(`INTROSPECT ${JSON.stringify(introspection)}`);

  // --- c. authorization code + PKCE, DPoP-bound to the session key ---------------------------
  const sessionKeys = await client.randomDPoPKeyPair('ES256');
  const sessionDPoP = client.getDPoPHandle(pub, sessionKeys);
  const sessionJkt = await ecThumbprint(sessionKeys.publicKey);

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(pub, {
    redirect_uri: redirectUri,
    scope: 'openid profile offline_access',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
  });
  out(`AUTHORIZE ${authorizationUrl.href}`);

  const callback = await waitFor('CALLBACK');
  lastWireTokenType = undefined;
  const codeTokens = await client.authorizationCodeGrant(
    pub,
    new URL(callback),
    { pkceCodeVerifier: codeVerifier, expectedState: state },
    undefined,
    { DPoP: sessionDPoP },
  );
  out(`CODE ${JSON.stringify({
    token_type: codeTokens.token_type,
    wire_token_type: lastWireTokenType ?? null,
    has_refresh: typeof codeTokens.refresh_token === 'string' && codeTokens.refresh_token.length > 0,
    jkt_matches: cnfJkt(codeTokens.access_token) === sessionJkt,
  })}`);

  // --- d. userinfo with DPoP -----------------------------------------------------------------
  const idTokenSub = codeTokens.claims()?.sub;
  const userinfo = await client.fetchUserInfo(
    pub,
    codeTokens.access_token,
    idTokenSub ?? client.skipSubjectCheck,
    { DPoP: sessionDPoP },
  );
  out(`USERINFO ${JSON.stringify(userinfo)}`);

  // --- e. the DPoP-bound token used as a plain bearer token ----------------------------------
  const userinfoEndpoint = metadata.userinfo_endpoint;
  if (!userinfoEndpoint) throw new Error('discovery has no userinfo_endpoint');
  const bearer = await loggingFetch(userinfoEndpoint, {
    method: 'GET',
    headers: { authorization: `Bearer ${codeTokens.access_token}`, accept: 'application/json' },
    redirect: 'manual',
  });
  await bearer.body?.cancel();
  out(`USERINFO_BEARER ${JSON.stringify({
    status: bearer.status,
    www_authenticate: bearer.headers.get('www-authenticate'),
  })}`);

  // --- f. refresh with the same key ----------------------------------------------------------
  if (!codeTokens.refresh_token) throw new Error('no refresh_token from the authorization code grant');
  lastWireTokenType = undefined;
  const refreshed = await client.refreshTokenGrant(pub, codeTokens.refresh_token, undefined, {
    DPoP: sessionDPoP,
  });
  const newRefreshToken = refreshed.refresh_token ?? codeTokens.refresh_token;
  out(`REFRESH ${JSON.stringify({
    token_type: refreshed.token_type,
    wire_token_type: lastWireTokenType ?? null,
    rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== codeTokens.refresh_token,
    jkt_matches: cnfJkt(refreshed.access_token) === sessionJkt,
  })}`);

  // --- g. refresh with another key: must fail ------------------------------------------------
  const otherKeys = await client.randomDPoPKeyPair('ES256');
  const otherDPoP = client.getDPoPHandle(pub, otherKeys);
  const otherKey = await expectFailure(
    'refresh with another DPoP key',
    client.refreshTokenGrant(pub, newRefreshToken, undefined, { DPoP: otherDPoP }),
  );
  out(`REFRESH_OTHER_KEY ${JSON.stringify(otherKey)}`);

  // --- h. refresh without a proof: must fail -------------------------------------------------
  const noProof = await expectFailure(
    'refresh without a DPoP proof',
    client.refreshTokenGrant(pub, newRefreshToken),
  );
  out(`REFRESH_NO_PROOF ${JSON.stringify(noProof)}`);
}

main().then(
  () => {
    rl.close();
    process.stdout.write('DONE\n', () => process.exit(0));
  },
  (err) => {
    console.error(err?.stack ?? err);
    // Only Error causes: other causes can be response bodies holding token values.
    if (err?.cause instanceof Error) console.error('cause:', err.cause.stack ?? err.cause.message);
    rl.close();
    process.stdout.write(`ERROR ${describeError(err)}\n`, () => process.exit(1));
  },
);
