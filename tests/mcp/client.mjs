// An MCP client for gatehouse's integration tests, driven over stdin/stdout lines.
//
// It uses the official SDK's Client + StreamableHTTPClientTransport with an in-memory
// OAuthClientProvider, so discovery, registration, PKCE, the code exchange and the refresh all go
// through the SDK's own code (client/auth.js).
//
// Env:   MCP_URL              the resource server's MCP endpoint (e.g. http://127.0.0.1:PORT/mcp)
//        REDIRECT_URI         the redirect URI (nothing needs to listen there)
//        MODE                 dynamic | cimd | preregistered
//        CLIENT_METADATA_URL  (cimd) the https URL of the Client ID Metadata Document
//        CLIENT_ID            (preregistered) a public client's id
//        CLIENT_TIMEOUT_SECS  optional overall time limit, default 120
//
// Stdout (one line each, in this order):
//        CLIENT_ID <id>                     once the client id is known
//        AUTHORIZE <url>                    then it waits for a stdin line:
//                                           CALLBACK <redirect URL with ?code=…&state=…&iss=…>
//        RESULT <json>                      the whoami tool's text
//        REFRESHED {"rotated":b,"access_changed":b}
//        RESULT2 <json>                     whoami again, with the refreshed access token
//        DONE                               then exit 0
//        ERROR <message>                    on any failure (stack on stderr), then exit 1
// Stderr: a log of every HTTP request the SDK makes (no token values).

import crypto from 'node:crypto';
import readline from 'node:readline';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const { MCP_URL, REDIRECT_URI, MODE, CLIENT_METADATA_URL, CLIENT_ID } = process.env;
const SCOPE = 'mcp:tools';
const TIMEOUT_SECS = Number(process.env.CLIENT_TIMEOUT_SECS || 120);

const log = msg => process.stderr.write(`[client] ${msg}\n`);
const out = line => process.stdout.write(`${line}\n`);

function fail(error) {
    // OAuth errors from the SDK carry the RFC 6749 code apart from the (often empty) description.
    const code = typeof error?.errorCode === 'string' ? `${error.errorCode}: ` : '';
    const text = String(error?.message ?? error) || error?.name || 'unknown error';
    const cause = error?.cause ? ` (cause: ${error.cause.message ?? error.cause})` : '';
    const message = `${code}${text}${cause}`.replace(/\s*\n\s*/g, ' ');
    log(error?.stack ?? String(error));
    out(`ERROR ${message}`);
    process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// stdin lines

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const lines = [];
const waiters = [];
let stdinClosed = false;
rl.on('line', line => {
    const w = waiters.shift();
    if (w) w.resolve(line);
    else lines.push(line);
});
rl.on('close', () => {
    stdinClosed = true;
    for (const w of waiters.splice(0)) w.reject(new Error('stdin closed while waiting for a CALLBACK line'));
});

function nextLine() {
    if (lines.length) return Promise.resolve(lines.shift());
    if (stdinClosed) return Promise.reject(new Error('stdin closed while waiting for a CALLBACK line'));
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
}

// ---------------------------------------------------------------------------------------------
// HTTP logging (every request the SDK makes, through the transport's `fetch` option)

async function loggingFetch(url, init) {
    const method = init?.method ?? 'GET';
    const shown = new URL(String(url));
    for (const k of ['code', 'code_challenge', 'state']) {
        if (shown.searchParams.has(k)) shown.searchParams.set(k, '…');
    }
    let res;
    try {
        res = await fetch(url, init);
    } catch (e) {
        log(`${method} ${shown} failed: ${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
        throw e;
    }
    let extra = '';
    if (!res.ok && res.status !== 401 && res.status !== 405) {
        try {
            extra = ` body ${(await res.clone().text()).slice(0, 500)}`;
        } catch {
            // body unavailable
        }
    }
    const www = res.headers.get('www-authenticate');
    log(`${method} ${shown} -> ${res.status}${www ? ` [WWW-Authenticate: ${www}]` : ''}${extra}`);
    return res;
}

// ---------------------------------------------------------------------------------------------
// The OAuthClientProvider, in memory

class TestOAuthProvider {
    constructor(mode) {
        this.mode = mode;
        this.phase = 'connect'; // 'connect' | 'refresh'
        this._clientInformation = undefined;
        this._tokens = undefined;
        this._codeVerifier = undefined;
        this._discovery = undefined;
        this._state = undefined;
        this._announcedClientId = undefined;
        this.authorizationUrl = undefined;
        if (mode === 'cimd') {
            // The SDK's Client ID Metadata Document support (SEP-991): used instead of dynamic
            // registration when the AS metadata has client_id_metadata_document_supported: true.
            this.clientMetadataUrl = CLIENT_METADATA_URL;
        }
        if (mode === 'preregistered') {
            this._clientInformation = { client_id: CLIENT_ID };
            this.announceClientId(CLIENT_ID);
        }
    }

    announceClientId(id) {
        if (id && id !== this._announcedClientId) {
            this._announcedClientId = id;
            out(`CLIENT_ID ${id}`);
        }
    }

    get redirectUrl() {
        return REDIRECT_URI;
    }

    get clientMetadata() {
        return {
            client_name: 'MCP test agent',
            redirect_uris: [REDIRECT_URI],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
            scope: SCOPE
        };
    }

    state() {
        this._state = crypto.randomBytes(16).toString('base64url');
        return this._state;
    }

    get savedState() {
        return this._state;
    }

    clientInformation() {
        return this._clientInformation;
    }

    saveClientInformation(info) {
        if (this.mode === 'cimd' && info.client_id !== CLIENT_METADATA_URL) {
            throw new Error(`cimd mode: the SDK saved client_id ${info.client_id}, not the metadata document URL`);
        }
        if (this.mode === 'preregistered' && info.client_id !== CLIENT_ID) {
            throw new Error(`preregistered mode: the SDK saved client_id ${info.client_id}, not ${CLIENT_ID}`);
        }
        log(`saveClientInformation: client_id ${info.client_id}${info.issuer ? `, bound to ${info.issuer}` : ''}`);
        this._clientInformation = info; // kept unchanged, with the SDK's `issuer` stamp
        this.announceClientId(info.client_id);
    }

    tokens() {
        return this._tokens;
    }

    saveTokens(tokens) {
        log(
            `saveTokens: token_type ${tokens.token_type}, expires_in ${tokens.expires_in}, scope ${tokens.scope}, ` +
                `refresh_token ${tokens.refresh_token ? 'present' : 'absent'}`
        );
        this._tokens = tokens;
    }

    redirectToAuthorization(url) {
        if (this.phase !== 'connect') {
            throw new Error(
                `the SDK started a new authorization during the ${this.phase} phase (the refresh failed or was not attempted): ${url}`
            );
        }
        if (this.authorizationUrl) {
            throw new Error(`the SDK asked for a second authorization: ${url}`);
        }
        this.authorizationUrl = new URL(url);
        out(`AUTHORIZE ${url}`);
    }

    saveCodeVerifier(verifier) {
        this._codeVerifier = verifier;
    }

    codeVerifier() {
        if (!this._codeVerifier) throw new Error('no code verifier saved');
        return this._codeVerifier;
    }

    saveDiscoveryState(state) {
        const asm = state.authorizationServerMetadata;
        if (!asm) {
            throw new Error(`no authorization server metadata found for ${state.authorizationServerUrl}`);
        }
        if (this.mode === 'cimd' && asm.client_id_metadata_document_supported !== true) {
            // Without it the SDK would silently fall back to dynamic registration.
            throw new Error('cimd mode: the AS metadata does not say client_id_metadata_document_supported: true');
        }
        if (!this._discovery) {
            log(
                `discovered: resource ${state.resourceMetadata?.resource}, authorization server ${state.authorizationServerUrl}, ` +
                    `issuer ${asm.issuer}`
            );
        }
        this._discovery = state;
    }

    discoveryState() {
        return this._discovery;
    }

    invalidateCredentials(scope) {
        // Kept as they are, so that the failure surfaces instead of a silent re-registration.
        log(`the SDK asked to invalidate credentials (${scope}); keeping them`);
    }
}

// ---------------------------------------------------------------------------------------------
// Steps

function newTransport(provider) {
    return new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: loggingFetch });
}

function newClient() {
    const client = new Client({ name: 'gatehouse-mcp-test-client', version: '0.0.0' }, { capabilities: {} });
    client.onerror = e => log(`client error (background): ${e?.message ?? e}`);
    return client;
}

async function connectAuthorized(provider) {
    const client = newClient();
    await client.connect(newTransport(provider));
    return client;
}

async function whoami(client) {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const text = result.content?.find(c => c.type === 'text')?.text;
    if (result.isError || typeof text !== 'string') {
        throw new Error(`whoami failed: ${JSON.stringify(result)}`);
    }
    JSON.parse(text); // must be JSON
    return text;
}

// Reads the CALLBACK line and checks it against the authorization request.
async function readCallback(provider) {
    const line = (await nextLine()).trim();
    const m = /^CALLBACK\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`expected "CALLBACK <url>", got ${JSON.stringify(line)}`);
    const cb = new URL(m[1]);
    const expected = new URL(REDIRECT_URI);
    if (cb.origin !== expected.origin || cb.pathname !== expected.pathname) {
        throw new Error(`callback ${cb.origin}${cb.pathname} is not the redirect URI ${REDIRECT_URI}`);
    }
    const p = cb.searchParams;
    if (p.get('error')) {
        throw new Error(`authorization error: ${p.get('error')}${p.get('error_description') ? `: ${p.get('error_description')}` : ''}`);
    }
    const sentState = provider.authorizationUrl?.searchParams.get('state') ?? undefined;
    if (sentState !== undefined || provider.savedState !== undefined) {
        if (sentState !== provider.savedState) throw new Error('the SDK did not send the state it was given');
        if (p.get('state') !== sentState) {
            throw new Error(`state mismatch: got ${JSON.stringify(p.get('state'))}, sent ${JSON.stringify(sentState)}`);
        }
    }
    // RFC 9207
    const asm = provider.discoveryState()?.authorizationServerMetadata;
    const iss = p.get('iss');
    if (iss !== null && asm && iss !== asm.issuer) {
        throw new Error(`iss mismatch: got ${JSON.stringify(iss)}, AS metadata issuer ${JSON.stringify(asm.issuer)}`);
    }
    if (iss === null && asm?.authorization_response_iss_parameter_supported === true) {
        throw new Error('no iss in the authorization response, though the AS says it sends one');
    }
    const code = p.get('code');
    if (!code) throw new Error(`no code in the callback ${cb}`);
    return code;
}

async function main() {
    if (!MCP_URL || !REDIRECT_URI) throw new Error('MCP_URL and REDIRECT_URI are required');
    if (!['dynamic', 'cimd', 'preregistered'].includes(MODE)) {
        throw new Error(`MODE must be dynamic, cimd or preregistered, got ${JSON.stringify(MODE)}`);
    }
    if (MODE === 'cimd' && !CLIENT_METADATA_URL) throw new Error('cimd mode needs CLIENT_METADATA_URL');
    if (MODE === 'preregistered' && !CLIENT_ID) throw new Error('preregistered mode needs CLIENT_ID');

    const provider = new TestOAuthProvider(MODE);

    // 1. The first connect meets a 401; the SDK discovers, registers (dynamic) and redirects.
    const first = newClient();
    const firstTransport = newTransport(provider);
    try {
        await first.connect(firstTransport);
        throw new Error('the first connect succeeded without authorization');
    } catch (e) {
        if (!(e instanceof UnauthorizedError)) throw e;
    }
    if (!provider.authorizationUrl) throw new Error('the SDK threw UnauthorizedError without redirecting');

    // 2. The test does the authorization and sends back the redirect.
    const code = await readCallback(provider);
    await firstTransport.finishAuth(code);
    await first.close().catch(() => {});

    // 3. Connect again with a new transport (same provider) and call the tool.
    const second = await connectAuthorized(provider);
    out(`RESULT ${await whoami(second)}`);
    await second.close().catch(() => {});

    // 4. Refresh through the SDK's own auth(): with a saved refresh token and no authorization
    //    code it posts grant_type=refresh_token (with `resource`) to the token endpoint.
    const before = provider.tokens();
    if (!before?.refresh_token) throw new Error('gatehouse issued no refresh token');
    provider.phase = 'refresh';
    const result = await auth(provider, { serverUrl: new URL(MCP_URL), fetchFn: loggingFetch });
    if (result !== 'AUTHORIZED') throw new Error(`refresh: auth() returned ${result}`);
    const after = provider.tokens();
    out(
        `REFRESHED ${JSON.stringify({
            rotated: after.refresh_token !== before.refresh_token,
            access_changed: after.access_token !== before.access_token
        })}`
    );
    provider.phase = 'after-refresh';

    // 5. Call the tool again with the new access token.
    const third = await connectAuthorized(provider);
    out(`RESULT2 ${await whoami(third)}`);
    await third.close().catch(() => {});

    out('DONE');
    process.exit(0);
}

setTimeout(() => fail(new Error(`timed out after ${TIMEOUT_SECS}s`)), TIMEOUT_SECS * 1000).unref();
process.on('unhandledRejection', e => fail(e));
main().catch(fail);
