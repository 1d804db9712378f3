// Drives openid-client against gatehouse for pushed authorization requests (RFC 9126),
// signed request objects (RFC 9101) and the device authorization grant (RFC 8628).
// Protocol: see README.md. Every line on stdout is `WORD json-or-text`.
import { createInterface } from 'node:readline';
import { webcrypto } from 'node:crypto';
import * as client from 'openid-client';

const out = (line) => process.stdout.write(`${line}\n`);
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const lines = [];
const waiters = [];
createInterface({ input: process.stdin, terminal: false }).on('line', (l) => {
  const w = waiters.shift();
  if (w) w(l);
  else lines.push(l);
});
const nextLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
async function waitFor(word) {
  const line = (await nextLine()).trim();
  if (!line.startsWith(`${word}`)) throw new Error(`expected ${word} on stdin, got ${line.slice(0, 60)}`);
  return line.slice(word.length).trim();
}

/// One authorization through the test's login: print the URL, get the callback, redeem it.
async function signIn(config, url, verifier, state) {
  out(`AUTHORIZE ${url.href}`);
  const callback = await waitFor('CALLBACK');
  return client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
}

async function main() {
  const issuer = new URL(env('ISSUER'));
  const options = { execute: [client.allowInsecureRequests] };
  const web = await client.discovery(issuer, env('WEB_CLIENT_ID'), { client_secret: env('WEB_CLIENT_SECRET') },
    client.ClientSecretBasic(), options);
  const redirectUri = env('REDIRECT_URI');
  const request = async () => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const params = {
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    };
    return { verifier, state, params };
  };

  // Pushed authorization request.
  let r = await request();
  const parUrl = await client.buildAuthorizationUrlWithPAR(web, r.params);
  let tokens = await signIn(web, parUrl, r.verifier, r.state);
  out(`PAR ${JSON.stringify({ request_uri: parUrl.searchParams.get('request_uri'), scope: tokens.scope })}`);

  // Signed request object, signed with the key the test registered for the client.
  const der = Buffer.from(env('JAR_KEY_PKCS8'), 'base64');
  const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  r = await request();
  const jarUrl = await client.buildAuthorizationUrlWithJAR(web, r.params, { key, kid: env('JAR_KEY_ID') });
  tokens = await signIn(web, jarUrl, r.verifier, r.state);
  out(`JAR ${JSON.stringify({ has_request: jarUrl.searchParams.has('request'), scope: tokens.scope })}`);

  // Device authorization grant, for a public client.
  const tv = await client.discovery(issuer, env('DEVICE_CLIENT_ID'), undefined, client.None(), options);
  const device = await client.initiateDeviceAuthorization(tv, { scope: 'openid offline_access' });
  out(`DEVICE ${JSON.stringify({ user_code: device.user_code, verification_uri_complete: device.verification_uri_complete })}`);
  await waitFor('APPROVED');
  const deviceTokens = await client.pollDeviceAuthorizationGrant(tv, device);
  out(`DEVICE_TOKENS ${JSON.stringify({ has_refresh: Boolean(deviceTokens.refresh_token), scope: deviceTokens.scope })}`);
  out('DONE');
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  out(`ERROR ${String(err?.message ?? err).replace(/\s+/g, ' ')}`);
  process.exit(1);
});
