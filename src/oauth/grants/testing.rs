//! A fixture for the grants' unit tests: the in-memory store with one user and one web
//! client, real signing keys, and a clock the test moves.

use std::sync::OnceLock;

use super::{authorization_code, client_credentials, refresh_token, Grant, Issuer, Outcome};
use super::{GrantRequest, TokenResponse};
use crate::config::{Settings, SettingsArgs};
use crate::crypto::{b64url, b64url_decode, secret_hash, sha256, Sealer};
use crate::domain::client::AuthMethod;
use crate::domain::user::{NewUser, Password, Username};
use crate::domain::{Client, Scopes};
use crate::keys::KeySet;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::store::memory::MemoryStore;
use crate::oauth::store::{
    Amr, CodeRecord, CodeStore, KeyStore, RefreshFamilyStore, RefreshRecord, UserChanges,
    UserDirectory,
};
use crate::oauth::tokens::{verify_access_token, AccessClaims};

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K9uQvKVZ4iI2ux8AtWIuBBqy1cUBc5M";
pub const REDIRECT: &str = "https://app.example/cb";
const NOW: i64 = 1_700_000_000;

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut store = MemoryStore::new();
        let sealer = Sealer::from_secret("a test secret that is long enough");
        store.ensure_keys(&sealer, NOW).unwrap();
        store.load_key_set(&sealer, NOW, 0).unwrap()
    })
}

/// A confidential machine client with `scopes`.
pub fn machine_client(scopes: &str) -> Client {
    let mut c = crate::oauth::redirect::test_support::client();
    c.client_id = "machine".into();
    c.redirect_uris.clear();
    c.grant_types = vec![client_credentials::ID];
    c.scopes = Scopes::parse(scopes).unwrap();
    c
}

pub struct Fixture {
    pub store: MemoryStore,
    pub settings: Settings,
    pub sealer: Sealer,
    pub client: Client,
    pub user_id: String,
    pub username: String,
    pub now: i64,
    pub auth_time: i64,
    /// The resources the next code's request names.
    pub resources: Vec<String>,
    /// The registered protected resources.
    pub registered: crate::domain::ResourceSet,
    /// The DPoP key the next token request proves.
    pub dpop_jkt: Option<String>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Self::with_grace(0)
    }

    /// With a refresh grace window of `grace` seconds.
    pub fn with_grace(grace: i64) -> Fixture {
        let mut settings = Settings::resolve(&SettingsArgs {
            issuer: Some("https://id.example".into()),
            database_url: Some("sqlite://unused.db".into()),
            ..Default::default()
        })
        .unwrap();
        settings.lifetimes.refresh_grace = grace;
        let mut store = MemoryStore::new();
        let user = NewUser {
            username: Username::parse("ada").unwrap(),
            password: Password::new("unused".into()),
            email: None,
            name: None,
            phone_number: None,
            address: None,
            is_admin: false,
        }
        .to_user("unused".into(), NOW);
        store.insert_user(&user).unwrap();
        let mut client = crate::oauth::redirect::test_support::client();
        client.redirect_uris = vec![REDIRECT.into()];
        client.auth_method = AuthMethod::None;
        Fixture {
            store,
            settings,
            sealer: Sealer::from_secret("a test secret that is long enough"),
            client,
            user_id: user.id,
            username: user.username,
            now: NOW,
            auth_time: NOW - 30,
            resources: Vec::new(),
            registered: Default::default(),
            dpop_jkt: None,
        }
    }

    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            settings: &self.settings,
            keys: keys(),
            sealer: &self.sealer,
            resources: &self.registered,
            dpop_jkt: self.dpop_jkt.as_deref(),
            now: self.now,
        }
    }

    /// Stores a code for the fixture's client and user; returns the code.
    pub fn code(&mut self, scopes: &str, amr: &[Amr]) -> String {
        self.code_with(scopes, amr, true)
    }

    /// [`Fixture::code`], for a request that named its redirect URI or not.
    pub fn code_with(&mut self, scopes: &str, amr: &[Amr], redirect_uri_given: bool) -> String {
        let code = crate::crypto::random_token(32);
        let challenge = b64url(&sha256(VERIFIER.as_bytes()));
        let record = CodeRecord {
            code_hash: secret_hash(&code),
            client_id: self.client.client_id.clone(),
            user_id: self.user_id.clone(),
            redirect_uri: REDIRECT.into(),
            redirect_uri_given,
            resources: self.resources.clone(),
            scopes: Scopes::parse(scopes).unwrap(),
            nonce: Some("n1".into()),
            code_challenge: CodeChallenge::parse(Some(&challenge), Some("S256")).unwrap(),
            sid: "sid1".into(),
            auth_time: self.auth_time,
            amr: amr.to_vec(),
            family_id: uuid::Uuid::new_v4().to_string(),
            access_jti: None,
            access_expires_at: None,
            created_at: self.now,
            expires_at: self.now + 60,
            consumed_at: None,
            dpop_jkt: None,
            claims: None,
        };
        self.store.insert_code(&record).unwrap();
        code
    }

    fn answer(&mut self, grant: &dyn Grant, client: &Client, query: &str) -> Outcome {
        let params = Params::parse_query(query).unwrap();
        let request: Box<dyn GrantRequest> = match grant.parse(&params) {
            Ok(r) => r,
            Err(e) => return Outcome::of(Err(e)),
        };
        let issuer = Issuer {
            settings: &self.settings,
            keys: keys(),
            sealer: &self.sealer,
            resources: &self.registered,
            dpop_jkt: self.dpop_jkt.as_deref(),
            now: self.now,
        };
        request.answer(&issuer, client, &mut self.store).unwrap()
    }

    /// A code exchange with the query as given.
    pub fn answer_query(&mut self, client: &Client, query: &str) -> Outcome {
        self.answer(&authorization_code::AuthorizationCode, client, query)
    }

    /// A refresh with the query as given.
    pub fn answer_refresh(&mut self, client: &Client, query: &str) -> Outcome {
        self.answer(&refresh_token::RefreshTokenGrant, client, query)
    }

    pub fn exchange(&mut self, code: &str, verifier: &str) -> Outcome {
        let client = self.client.clone();
        let q = format!(
            "grant_type=authorization_code&code={code}&code_verifier={verifier}&redirect_uri={REDIRECT}"
        );
        self.answer(&authorization_code::AuthorizationCode, &client, &q)
    }

    pub fn exchange_as(
        &mut self,
        client: &Client,
        code: &str,
        verifier: &str,
        redirect_uri: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let mut q = format!("grant_type=authorization_code&code={code}&code_verifier={verifier}");
        if let Some(r) = redirect_uri {
            q.push_str(&format!("&redirect_uri={r}"));
        }
        self.answer(&authorization_code::AuthorizationCode, client, &q)
            .result
    }

    pub fn refresh(&mut self, token: &str, scope: Option<Scopes>) -> Outcome {
        let client = self.client.clone();
        let mut q = format!("grant_type=refresh_token&refresh_token={token}");
        if let Some(s) = scope {
            q.push_str(&format!("&scope={}", s.to_string().replace(' ', "+")));
        }
        self.answer(&refresh_token::RefreshTokenGrant, &client, &q)
    }

    pub fn refresh_as(
        &mut self,
        client: &Client,
        token: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let q = format!("grant_type=refresh_token&refresh_token={token}");
        self.answer(&refresh_token::RefreshTokenGrant, client, &q)
            .result
    }

    pub fn access_claims(&self, token: &str) -> AccessClaims {
        verify_access_token(keys(), token, &self.settings.issuer, self.now).unwrap()
    }

    pub fn access_payload(&self, token: &str) -> serde_json::Value {
        payload(token)
    }

    pub fn id_payload(&self, token: &str) -> serde_json::Value {
        payload(token)
    }

    pub fn refresh_record(&mut self, token: &str) -> RefreshRecord {
        self.store
            .find_refresh(&secret_hash(token))
            .unwrap()
            .unwrap()
    }

    pub fn disable_user(&mut self) {
        let changes = UserChanges {
            disabled: Some(true),
            ..Default::default()
        };
        let name = self.username.clone();
        assert!(self.store.update_user(&name, &changes, self.now).unwrap());
    }
}

/// The claims of a JWT, unverified.
fn payload(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&b64url_decode(part).unwrap()).unwrap()
}
