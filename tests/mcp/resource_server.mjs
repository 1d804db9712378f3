// A small MCP resource server for gatehouse's integration tests.
//
// It is an OAuth 2.0 protected resource (RFC 9728 metadata, RFC 6750 bearer tokens) whose
// authorization server is gatehouse, and an MCP server (Streamable HTTP, built with the official
// SDK) offering one tool, `whoami`, that echoes the caller's access-token claims.
// Access tokens are JWTs (RFC 9068) that this server verifies itself against gatehouse's JWKS,
// using only node's `crypto`.
//
// Env:   ISSUER  gatehouse's issuer URL (e.g. http://127.0.0.1:40123), required
//        SCOPE   the scope(s) advertised in scopes_supported, space-separated (default "mcp:tools");
//                the SDK's client requests exactly these (joined by spaces)
// Stdout: exactly one line "LISTENING http://127.0.0.1:PORT/mcp" once ready.
// Stderr: a log line per request, with the reason of every rejection.
// Runs until killed, or until its stdin (when that is a pipe) is closed.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

const ISSUER = process.env.ISSUER;
const SCOPES = (process.env.SCOPE || 'mcp:tools').split(/\s+/).filter(Boolean);
if (!ISSUER) {
    process.stderr.write('resource_server: ISSUER is required\n');
    process.exit(2);
}

const log = msg => process.stderr.write(`[resource_server] ${msg}\n`);

const stats = { accepted: 0, rejected: 0, rejections: [] };

// Filled in once the server listens on its random port.
let RESOURCE = '';
let METADATA_URL = '';

// ---------------------------------------------------------------------------------------------
// JWKS and JWT verification

let jwksCache = null; // { keys: [...] }

async function fetchJson(url) {
    const res = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!res.ok) {
        throw new Error(`GET ${url}: HTTP ${res.status}`);
    }
    return res.json();
}

async function loadJwks() {
    const config = await fetchJson(`${ISSUER.replace(/\/+$/, '')}/.well-known/openid-configuration`);
    if (typeof config.jwks_uri !== 'string') {
        throw new Error('openid-configuration has no jwks_uri');
    }
    const jwks = await fetchJson(config.jwks_uri);
    if (!Array.isArray(jwks.keys)) {
        throw new Error(`${config.jwks_uri} has no "keys" array`);
    }
    jwksCache = jwks;
    return jwks;
}

// Which JWKs can check a signature made with `alg`.
function keyFitsAlg(jwk, alg) {
    if (jwk.use && jwk.use !== 'sig') return false;
    if (jwk.alg && jwk.alg !== alg) return false;
    switch (alg) {
        case 'ES256':
            return jwk.kty === 'EC' && jwk.crv === 'P-256';
        case 'RS256':
            return jwk.kty === 'RSA';
        case 'EdDSA':
            return jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448');
        default:
            return false;
    }
}

function candidateKeys(jwks, header) {
    const keys = jwks.keys.filter(k => keyFitsAlg(k, header.alg));
    return header.kid === undefined ? keys : keys.filter(k => k.kid === header.kid);
}

function verifySignature(jwk, alg, signingInput, signature) {
    let key;
    try {
        key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    } catch (e) {
        return false;
    }
    const data = Buffer.from(signingInput, 'ascii');
    switch (alg) {
        case 'ES256':
            return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
        case 'RS256':
            return crypto.verify('sha256', data, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, signature);
        case 'EdDSA':
            return crypto.verify(null, data, key, signature);
        default:
            return false;
    }
}

class Rejection extends Error {}

function b64urlJson(part, what) {
    try {
        return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    } catch {
        throw new Rejection(`malformed JWT ${what}`);
    }
}

const ALLOWED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt']);

async function verifyAccessToken(token) {
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some(p => !/^[A-Za-z0-9_-]*$/.test(p))) {
        throw new Rejection('malformed JWT: not three base64url parts');
    }
    const [h, p, s] = parts;
    const header = b64urlJson(h, 'header');
    const claims = b64urlJson(p, 'payload');
    if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') {
        throw new Rejection('malformed JWT: header or payload is not an object');
    }
    if (!['ES256', 'RS256', 'EdDSA'].includes(header.alg)) {
        throw new Rejection(`unsupported alg ${JSON.stringify(header.alg)}`);
    }
    if (header.typ !== undefined && !ALLOWED_TYP.has(String(header.typ).toLowerCase())) {
        throw new Rejection(`typ ${JSON.stringify(header.typ)} not allowed`);
    }
    if (header.crit !== undefined) {
        throw new Rejection('crit header not supported');
    }

    let jwks;
    try {
        jwks = jwksCache ?? (await loadJwks());
    } catch (e) {
        throw new Rejection(`cannot load JWKS: ${e.message}`);
    }
    let keys = candidateKeys(jwks, header);
    if (keys.length === 0) {
        // An unknown kid: the keys may have rotated; refetch once.
        try {
            jwks = await loadJwks();
        } catch (e) {
            throw new Rejection(`cannot reload JWKS: ${e.message}`);
        }
        keys = candidateKeys(jwks, header);
        if (keys.length === 0) {
            throw new Rejection(`no ${header.alg} key with kid ${JSON.stringify(header.kid)} in JWKS`);
        }
    }
    const signature = Buffer.from(s, 'base64url');
    if (!keys.some(k => verifySignature(k, header.alg, `${h}.${p}`, signature))) {
        throw new Rejection(`bad ${header.alg} signature (kid ${JSON.stringify(header.kid)})`);
    }

    if (claims.iss !== ISSUER) {
        throw new Rejection(`iss mismatch: got ${JSON.stringify(claims.iss)}, want ${JSON.stringify(ISSUER)}`);
    }
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.includes(RESOURCE)) {
        throw new Rejection(`aud mismatch: got ${JSON.stringify(claims.aud)}, want ${JSON.stringify(RESOURCE)}`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number') {
        throw new Rejection('exp missing');
    }
    if (claims.exp <= now) {
        throw new Rejection(`token expired at ${claims.exp} (now ${now})`);
    }
    if (typeof claims.nbf === 'number' && claims.nbf > now + 5) {
        throw new Rejection(`token not valid before ${claims.nbf} (now ${now})`);
    }
    return { header, claims };
}

// ---------------------------------------------------------------------------------------------
// MCP

function buildMcpServer() {
    const server = new McpServer({ name: 'gatehouse-test-resource-server', version: '0.0.0' });
    server.registerTool(
        'whoami',
        { description: "Returns the sub, aud, scope and client_id of the caller's access token" },
        async extra => {
            const claims = extra.authInfo?.extra?.claims ?? {};
            const text = JSON.stringify({
                sub: claims.sub,
                aud: claims.aud,
                scope: claims.scope,
                client_id: claims.client_id
            });
            return { content: [{ type: 'text', text }] };
        }
    );
    return server;
}

// ---------------------------------------------------------------------------------------------
// HTTP

function sendJson(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(text);
}

function unauthorized(req, res, reason, withError) {
    stats.rejected += 1;
    stats.rejections.push(reason);
    log(`${req.method} ${req.url} -> 401: ${reason}`);
    const challenge = withError
        ? `Bearer error="invalid_token", resource_metadata="${METADATA_URL}"`
        : `Bearer resource_metadata="${METADATA_URL}"`;
    req.resume(); // discard any request body
    sendJson(res, 401, { error: withError ? 'invalid_token' : 'unauthorized' }, { 'WWW-Authenticate': challenge });
}

function protectedResourceMetadata() {
    return {
        resource: RESOURCE,
        authorization_servers: [ISSUER],
        scopes_supported: SCOPES,
        resource_name: 'Test MCP server',
        bearer_methods_supported: ['header']
    };
}

async function handleMcp(req, res) {
    const authz = req.headers['authorization'];
    const m = typeof authz === 'string' ? /^Bearer[ ]+(\S*)\s*$/i.exec(authz) : null;
    if (!m) {
        unauthorized(req, res, authz ? 'authorization header is not a bearer token' : 'no bearer token', false);
        return;
    }
    if (!m[1]) {
        unauthorized(req, res, 'empty bearer token', true);
        return;
    }
    let verified;
    try {
        verified = await verifyAccessToken(m[1]);
    } catch (e) {
        unauthorized(req, res, e instanceof Rejection ? e.message : `verification error: ${e.message}`, true);
        return;
    }
    stats.accepted += 1;
    const { claims } = verified;
    log(`${req.method} ${req.url}: token accepted (sub ${claims.sub}, client_id ${claims.client_id})`);

    // Stateless Streamable HTTP: a fresh server and transport per POST. There are no sessions,
    // so there is no standalone SSE stream to GET and nothing to DELETE.
    if (req.method !== 'POST') {
        req.resume();
        sendJson(
            res,
            405,
            { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null },
            { Allow: 'POST' }
        );
        return;
    }

    req.auth = {
        token: m[1],
        clientId: String(claims.client_id ?? ''),
        scopes: typeof claims.scope === 'string' && claims.scope ? claims.scope.split(' ') : [],
        expiresAt: claims.exp,
        resource: new URL(RESOURCE),
        extra: { claims }
    };
    const server = buildMcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
        transport.close().catch(() => {});
        server.close().catch(() => {});
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
}

const httpServer = http.createServer(async (req, res) => {
    let path;
    try {
        path = new URL(req.url, 'http://127.0.0.1').pathname;
    } catch {
        sendJson(res, 400, { error: 'bad request' });
        return;
    }
    try {
        if (path === '/.well-known/oauth-protected-resource/mcp' || path === '/.well-known/oauth-protected-resource') {
            if (req.method !== 'GET' && req.method !== 'HEAD') {
                sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET' });
                return;
            }
            log(`${req.method} ${path} -> 200`);
            sendJson(res, 200, protectedResourceMetadata(), { 'Access-Control-Allow-Origin': '*' });
        } else if (path === '/stats') {
            sendJson(res, 200, stats);
        } else if (path === '/mcp') {
            await handleMcp(req, res);
        } else {
            log(`${req.method} ${path} -> 404`);
            sendJson(res, 404, { error: 'not found' });
        }
    } catch (e) {
        log(`${req.method} ${path}: internal error: ${e.stack ?? e}`);
        if (!res.headersSent) {
            sendJson(res, 500, { error: 'internal error' });
        } else {
            res.end();
        }
    }
});

httpServer.listen(0, '127.0.0.1', () => {
    const { port } = httpServer.address();
    RESOURCE = `http://127.0.0.1:${port}/mcp`;
    METADATA_URL = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
    log(`issuer ${ISSUER}, scopes ${SCOPES.join(' ')}, resource ${RESOURCE}`);
    process.stdout.write(`LISTENING ${RESOURCE}\n`);
});

// Exit when the parent closes our stdin, if stdin is a pipe (not /dev/null or a terminal).
try {
    const st = fs.fstatSync(0);
    if (st.isFIFO() || st.isSocket()) {
        process.stdin.on('end', () => process.exit(0));
        process.stdin.on('error', () => process.exit(0));
        process.stdin.resume();
    }
} catch {
    // no stdin at all
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
