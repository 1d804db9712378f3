//! Which claims about a person a client gets (OIDC Core §5.4, §5.5): the claims of each
//! granted scope, the individual claims a `claims` request parameter names, and the
//! authentication context (`acr`) of the login. Pure: a user and a request in, JSON out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::error::OAuthError;
use super::store::Amr;
use crate::domain::{Scopes, User};

/// The claims each standard scope stands for (OIDC Core §5.4), as far as gatehouse keeps
/// them.
pub const SCOPE_CLAIMS: [(&str, &[&str]); 4] = [
    ("profile", &["name", "preferred_username", "updated_at"]),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Every claim gatehouse can put in an ID token or a UserInfo answer.
pub const CLAIMS_SUPPORTED: [&str; 20] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
    "at_hash",
];

/// A login with one factor: a password.
pub const ACR_PASSWORD: &str = "urn:gatehouse:acr:password";
/// A login with more than one factor, or with a user-verified passkey.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// The `acr` values in order of strength.
pub const ACR_VALUES: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// The strength of a login with `amr` methods: an index into [`ACR_VALUES`].
fn level_of(amr: &[Amr]) -> usize {
    let factors = amr.iter().filter(|a| !matches!(a, Amr::User)).count();
    let verified_key =
        amr.contains(&Amr::User) && amr.iter().any(|a| matches!(a, Amr::Hwk | Amr::Swk));
    match amr.contains(&Amr::Mfa) || factors > 1 || verified_key {
        true => 1,
        false => 0,
    }
}

/// Whether a login with `amr` methods is multi-factor.
pub fn is_multi_factor(amr: &[Amr]) -> bool {
    level_of(amr) == 1
}

/// The `acr` a login with `amr` methods earned.
pub fn acr_of(amr: &[Amr]) -> &'static str {
    ACR_VALUES[level_of(amr)]
}

/// The value of one user claim, if the user has it.
pub fn user_claim(user: &User, name: &str) -> Option<Value> {
    Some(match name {
        "name" => json!(user.name.as_ref()?),
        "preferred_username" => json!(user.username),
        "updated_at" => json!(user.updated_at),
        "email" => json!(user.email.as_ref()?),
        "email_verified" => json!(user.email.as_ref().map(|_| user.email_verified)?),
        "address" => serde_json::to_value(user.address.as_ref()?).ok()?,
        "phone_number" => json!(user.phone_number.as_ref()?),
        "phone_number_verified" => {
            json!(user
                .phone_number
                .as_ref()
                .map(|_| user.phone_number_verified)?)
        }
        _ => return None,
    })
}

/// `sub` plus the claims of each granted scope and the `extra` claims requested by name;
/// claims the user does not have are left out.
pub fn claims_for<'a>(
    user: &User,
    sub: &str,
    scopes: &Scopes,
    extra: impl IntoIterator<Item = &'a str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), json!(sub));
    let by_scope = SCOPE_CLAIMS
        .iter()
        .filter(|(scope, _)| scopes.contains(scope))
        .flat_map(|(_, names)| names.iter().copied());
    for name in by_scope.chain(extra) {
        if let Some(v) = user_claim(user, name) {
            out.insert(name.to_string(), v);
        }
    }
    out
}

/// How one claim is requested (OIDC Core §5.5.1): `null`, or `essential`, `value`,
/// `values`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSpec {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The `claims` parameter, and `acr_values`, as stored with a code or refresh family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, ClaimSpec>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, ClaimSpec>,
    /// `acr_values`, in order of preference (voluntary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
}

/// At most this many claims may be requested, and the parameter is at most 4 KiB.
const MAX_CLAIMS: usize = 64;
const MAX_LEN: usize = 4096;

fn bad(message: &str) -> OAuthError {
    OAuthError::invalid_request(format!("claims: {message}"))
}

fn parse_spec(name: &str, v: &Value) -> Result<ClaimSpec, OAuthError> {
    let obj = match v {
        Value::Null => return Ok(ClaimSpec::default()),
        Value::Object(o) => o,
        _ => return Err(bad(&format!("'{name}' must be null or an object"))),
    };
    let essential = match obj.get("essential") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad(&format!("'{name}'.essential must be a boolean"))),
    };
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut values = Vec::new();
    if let Some(v) = obj.get("value").filter(|v| !v.is_null()) {
        values.push(as_text(v));
    }
    match obj.get("values") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => values.extend(list.iter().map(as_text)),
        Some(_) => return Err(bad(&format!("'{name}'.values must be an array"))),
    }
    Ok(ClaimSpec { essential, values })
}

fn parse_member(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, ClaimSpec>, OAuthError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(name, spec)| Ok((name.clone(), parse_spec(name, spec)?)))
            .collect(),
        Some(_) => Err(bad(&format!("'{field}' must be an object"))),
    }
}

impl ClaimsRequest {
    /// Reads the `claims` and `acr_values` request parameters; `None` when neither asks
    /// for anything.
    pub fn parse(
        claims: Option<&str>,
        acr_values: Option<&str>,
    ) -> Result<Option<ClaimsRequest>, OAuthError> {
        let mut req = ClaimsRequest::default();
        if let Some(raw) = claims.filter(|c| !c.trim().is_empty()) {
            if raw.len() > MAX_LEN {
                return Err(bad("at most 4096 characters"));
            }
            let v: Value = serde_json::from_str(raw).map_err(|_| bad("not a JSON object"))?;
            let Value::Object(top) = v else {
                return Err(bad("not a JSON object"));
            };
            req.userinfo = parse_member(top.get("userinfo"), "userinfo")?;
            req.id_token = parse_member(top.get("id_token"), "id_token")?;
            if req.userinfo.len() + req.id_token.len() > MAX_CLAIMS {
                return Err(bad("too many claims"));
            }
        }
        req.acr_values = acr_values
            .unwrap_or("")
            .split(' ')
            .filter(|v| !v.is_empty())
            .take(16)
            .map(str::to_string)
            .collect();
        Ok((req != ClaimsRequest::default()).then_some(req))
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a claims request serializes")
    }

    pub fn decode(raw: &str) -> Option<ClaimsRequest> {
        serde_json::from_str(raw).ok()
    }

    /// The user claims requested for the ID token.
    pub fn id_token_claims(&self) -> impl Iterator<Item = &str> {
        self.id_token.keys().map(String::as_str)
    }

    /// The user claims requested for UserInfo.
    pub fn userinfo_claims(&self) -> impl Iterator<Item = &str> {
        self.userinfo.keys().map(String::as_str)
    }

    /// The `acr` values the request names, essential or not: an essential `acr` claim
    /// request's values (OIDC Core §5.5.1.1), else `acr_values`.
    fn acr_request(&self) -> (bool, Vec<&str>) {
        match self
            .id_token
            .get("acr")
            .or_else(|| self.userinfo.get("acr"))
        {
            Some(spec) if spec.essential && !spec.values.is_empty() => {
                (true, spec.values.iter().map(String::as_str).collect())
            }
            Some(spec) if !spec.values.is_empty() => {
                (false, spec.values.iter().map(String::as_str).collect())
            }
            _ => (false, self.acr_values.iter().map(String::as_str).collect()),
        }
    }

    /// The `acr` to state for a login with `amr`: the first requested value the login
    /// meets (a stronger login meets a weaker value), else what the login earned.
    pub fn acr_for(&self, amr: &[Amr]) -> &'static str {
        let level = level_of(amr);
        let (_, wanted) = self.acr_request();
        wanted
            .iter()
            .filter_map(|v| ACR_VALUES.iter().position(|a| a == v))
            .find(|want| *want <= level)
            .map_or(ACR_VALUES[level], |i| ACR_VALUES[i])
    }

    /// Whether the request prefers the multi-factor level: the first `acr` value it
    /// names that gatehouse knows is that level (essential or voluntary).
    pub fn wants_mfa(&self) -> bool {
        let (_, wanted) = self.acr_request();
        wanted.iter().find(|v| ACR_VALUES.contains(v)) == Some(&ACR_MFA)
    }

    /// Whether a login with `amr` fails an essential `acr` request.
    pub fn acr_unmet(&self, amr: &[Amr]) -> bool {
        let (essential, wanted) = self.acr_request();
        let level = level_of(amr);
        essential
            && !wanted
                .iter()
                .filter_map(|v| ACR_VALUES.iter().position(|a| a == v))
                .any(|want| want <= level)
    }
}

/// The scope a user claim belongs to, if any.
fn scope_of(claim: &str) -> Option<&'static str> {
    SCOPE_CLAIMS
        .iter()
        .find(|(_, names)| names.contains(&claim))
        .map(|(scope, _)| *scope)
}

impl ClaimsRequest {
    /// Leaves out claims of scopes the client may not have: asking by name grants no
    /// more than asking by scope.
    pub fn restrict(&mut self, allowed: &Scopes) {
        let keep =
            |name: &String, _: &mut ClaimSpec| scope_of(name).is_none_or(|s| allowed.contains(s));
        self.userinfo.retain(keep);
        self.id_token.retain(keep);
    }

    /// The scopes whose claims the request names: the person consents to them.
    pub fn implied_scopes(&self) -> Scopes {
        Scopes::of(
            self.userinfo
                .keys()
                .chain(self.id_token.keys())
                .filter_map(|n| scope_of(n)),
        )
    }
}

/// The `acr` of a login made for a request that may have asked for one.
pub fn acr(request: Option<&ClaimsRequest>, amr: &[Amr]) -> &'static str {
    request.map_or_else(|| acr_of(amr), |r| r.acr_for(amr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Address;

    fn user() -> User {
        crate::domain::user::NewUser {
            username: crate::domain::Username::parse("ada").unwrap(),
            password: crate::domain::Password::new("irrelevant".into()),
            email: Some("ada@example.com".into()),
            name: None,
            phone_number: Some("+44 20 7946 0000".into()),
            address: Some(Address {
                locality: Some("London".into()),
                ..Address::default()
            }),
            is_admin: false,
        }
        .to_user("hash".into(), 10)
    }

    #[test]
    fn scopes_and_named_claims_choose_what_is_told() {
        let u = user();
        let out = claims_for(&u, "s1", &Scopes::of(["openid", "phone"]), ["address"]);
        assert_eq!(out["sub"], "s1");
        assert_eq!(out["phone_number"], "+44 20 7946 0000");
        assert_eq!(out["phone_number_verified"], false);
        assert_eq!(out["address"], json!({"locality": "London"}));
        assert!(
            !out.contains_key("email"),
            "email was neither scoped nor named"
        );
        let none = claims_for(&u, "s1", &Scopes::of(["profile"]), []);
        assert!(!none.contains_key("name"), "a missing name is left out");
        assert_eq!(none["preferred_username"], "ada");
    }

    #[test]
    fn the_claims_parameter_is_parsed_strictly() {
        let r = ClaimsRequest::parse(
            Some(r#"{"id_token":{"email":{"essential":true},"acr":{"values":["x"]}},"userinfo":{"address":null}}"#),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.id_token_claims().collect::<Vec<_>>(), ["acr", "email"]);
        assert_eq!(r.userinfo_claims().collect::<Vec<_>>(), ["address"]);
        assert!(r.id_token["email"].essential);
        assert_eq!(ClaimsRequest::decode(&r.encode()), Some(r));
        for bad in [
            "[]",
            "{\"id_token\":[]}",
            "not json",
            r#"{"userinfo":{"a":1}}"#,
        ] {
            assert!(ClaimsRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
        assert_eq!(ClaimsRequest::parse(Some(""), Some(" ")).unwrap(), None);
    }

    #[test]
    fn acr_is_what_the_login_earned_or_a_weaker_requested_value() {
        assert_eq!(acr_of(&[Amr::Pwd]), ACR_PASSWORD);
        assert_eq!(acr_of(&[Amr::Pwd, Amr::Otp]), ACR_MFA);
        assert_eq!(acr_of(&[Amr::Hwk, Amr::User]), ACR_MFA);
        let voluntary = ClaimsRequest::parse(None, Some(&format!("{ACR_MFA} {ACR_PASSWORD}")))
            .unwrap()
            .unwrap();
        assert_eq!(voluntary.acr_for(&[Amr::Pwd]), ACR_PASSWORD);
        assert!(
            !voluntary.acr_unmet(&[Amr::Pwd]),
            "acr_values are voluntary"
        );
        let essential = ClaimsRequest::parse(
            Some(&format!(
                r#"{{"id_token":{{"acr":{{"essential":true,"values":["{ACR_MFA}"]}}}}}}"#
            )),
            None,
        )
        .unwrap()
        .unwrap();
        assert!(essential.acr_unmet(&[Amr::Pwd]));
        assert!(!essential.acr_unmet(&[Amr::Pwd, Amr::Otp]));
        assert_eq!(essential.acr_for(&[Amr::Pwd, Amr::Otp]), ACR_MFA);
        let weaker = ClaimsRequest::parse(None, Some(ACR_PASSWORD))
            .unwrap()
            .unwrap();
        assert_eq!(weaker.acr_for(&[Amr::Pwd, Amr::Otp]), ACR_PASSWORD);
    }
}
