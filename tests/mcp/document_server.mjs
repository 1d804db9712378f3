// An HTTPS server that publishes a Client ID Metadata Document
// (draft-ietf-oauth-client-id-metadata-document) for gatehouse's integration tests.
//
// Env:   TLS_CERT      PEM file with the server certificate (e.g. tests/mcp/tls/server.pem)
//        TLS_KEY       PEM file with its private key        (e.g. tests/mcp/tls/server.key)
//        REDIRECT_URI  the one redirect URI the document lists
// Stdout: exactly one line "LISTENING https://127.0.0.1:PORT/client.json" once ready.
// Serves: GET /client.json  the document (its client_id is its own URL)
//         GET /stats        {"fetches": n}, n = requests for /client.json so far
// Runs until killed, or until its stdin (when that is a pipe) is closed.

import fs from 'node:fs';
import https from 'node:https';

const { TLS_CERT, TLS_KEY, REDIRECT_URI } = process.env;
for (const [name, value] of Object.entries({ TLS_CERT, TLS_KEY, REDIRECT_URI })) {
    if (!value) {
        process.stderr.write(`document_server: ${name} is required\n`);
        process.exit(2);
    }
}

const log = msg => process.stderr.write(`[document_server] ${msg}\n`);

let origin = '';
let fetches = 0;

function documentBody() {
    return {
        client_id: `${origin}/client.json`,
        client_name: 'MCP test agent',
        client_uri: `${origin}/`,
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none'
    };
}

const server = https.createServer(
    { cert: fs.readFileSync(TLS_CERT), key: fs.readFileSync(TLS_KEY) },
    (req, res) => {
        const path = new URL(req.url, 'https://127.0.0.1').pathname;
        if (path === '/client.json') {
            fetches += 1;
            log(`${req.method} ${req.url} (fetch #${fetches}) from ${req.socket.remoteAddress}, accept ${req.headers.accept ?? '-'}`);
            if (req.method !== 'GET' && req.method !== 'HEAD') {
                res.writeHead(405, { Allow: 'GET' });
                res.end();
                return;
            }
            const body = JSON.stringify(documentBody());
            res.writeHead(200, {
                'Content-Type': 'application/json',
                'Cache-Control': 'max-age=300',
                'Content-Length': Buffer.byteLength(body)
            });
            res.end(req.method === 'HEAD' ? undefined : body);
        } else if (path === '/stats') {
            const body = JSON.stringify({ fetches });
            res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
            res.end(body);
        } else {
            log(`${req.method} ${req.url} -> 404`);
            res.writeHead(404, { 'Content-Type': 'application/json' });
            res.end('{"error":"not found"}');
        }
    }
);
server.on('tlsClientError', err => log(`TLS error: ${err.message}`));

server.listen(0, '127.0.0.1', () => {
    origin = `https://127.0.0.1:${server.address().port}`;
    process.stdout.write(`LISTENING ${origin}/client.json\n`);
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
