//! The `openidconnect` crate as a relying party: one code flow through the real pages,
//! with the ID token verified against the JWKS and the nonce.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};

use crate::authorize::{PW, RP};
use crate::fixtures::Registered;
use crate::helpers::{browser, login_flow, query_param, TestApp};

/// Signs `username` in to client `c` (redirect URI [`RP`]) for `scopes` beyond `openid`,
/// with `extra` authorization parameters; the tokens and the verified ID token claims.
pub async fn code_flow(
    app: &TestApp,
    c: &Registered,
    username: &str,
    scopes: &[&str],
    extra: &[(&str, String)],
) -> (CoreTokenResponse, CoreIdTokenClaims) {
    let http = browser();
    let issuer = IssuerUrl::new(app.issuer.clone()).unwrap();
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.id.clone()),
        c.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(RP.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in scopes {
        request = request.add_scope(Scope::new(s.to_string()));
    }
    for (k, v) in extra {
        request = request.add_extra_param(*k, v.clone());
    }
    let (url, _, nonce) = request.set_pkce_challenge(challenge).url();
    let callback = login_flow(&app.http, url.as_str(), username, PW).await;
    let code = query_param(&callback, "code").expect(&callback);
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("the ID token verifies against the JWKS, with the nonce")
        .clone();
    (tokens, claims)
}
