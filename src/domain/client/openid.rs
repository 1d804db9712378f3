//! A client's OpenID options: its subject type (OIDC Core §8) and its logout channels
//! (OpenID Back-Channel and Front-Channel Logout 1.0).

use super::{keys_url, meta_err, MetadataError, RedirectUri};

/// The options as stored with a client.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OpenIdOptions {
    /// `subject_type: pairwise`: the client sees a `sub` of its own sector.
    pub pairwise: bool,
    /// A document listing the redirect URIs of the client's sector (OIDC Core §8.1).
    pub sector_identifier_uri: Option<String>,
    /// Where logout tokens are POSTed when a session the client took part in ends.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// Where the logout page points an iframe when a session ends.
    pub frontchannel_logout_uri: Option<String>,
    pub frontchannel_logout_session_required: bool,
    /// Its users must sign in with a second factor (or a verified passkey) to get a code
    /// for it.
    pub require_mfa: bool,
}

/// The options as metadata gives them, before validation.
#[derive(Debug, Clone, Default)]
pub struct OpenIdSpec {
    pub subject_type: Option<String>,
    pub sector_identifier_uri: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub frontchannel_logout_uri: Option<String>,
    pub frontchannel_logout_session_required: bool,
    pub require_mfa: bool,
}

/// The host of an absolute URL.
fn host_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
}

impl OpenIdOptions {
    /// The sector whose users see one `sub` (OIDC Core §8.1): the host of the
    /// `sector_identifier_uri`, else of the redirect URIs. `None` for a public subject.
    pub fn sector(&self, redirect_uris: &[String]) -> Option<String> {
        if !self.pairwise {
            return None;
        }
        match &self.sector_identifier_uri {
            Some(u) => host_of(u),
            None => redirect_uris.first().and_then(|u| host_of(u)),
        }
    }
}

/// A URL for a logout channel: https (or http on a loopback host), no fragment.
fn channel_url(field: &'static str, raw: Option<String>) -> Result<Option<String>, MetadataError> {
    keys_url(raw).map_err(|e| {
        meta_err(
            field,
            e.message
                .replace("an https URL", "an https URL (http only on loopback)"),
        )
    })
}

impl OpenIdSpec {
    pub fn validate(self, redirect_uris: &[RedirectUri]) -> Result<OpenIdOptions, MetadataError> {
        let pairwise = match self.subject_type.as_deref().filter(|s| !s.is_empty()) {
            None | Some("public") => false,
            Some("pairwise") => true,
            Some(other) => {
                return Err(meta_err(
                    "subject_type",
                    format!("'{other}' is not public or pairwise"),
                ))
            }
        };
        // https, or http on loopback (which the fetcher reaches only when allowed).
        let sector_identifier_uri = keys_url(self.sector_identifier_uri).map_err(|e| {
            meta_err(
                "sector_identifier_uri",
                e.message.replace(" without a fragment", ""),
            )
        })?;
        let mut hosts: Vec<_> = redirect_uris
            .iter()
            .filter_map(|u| host_of(u.as_str()))
            .collect();
        hosts.sort();
        hosts.dedup();
        if pairwise && sector_identifier_uri.is_none() && hosts.len() > 1 {
            return Err(meta_err(
                "sector_identifier_uri",
                "a pairwise client with redirect URIs on several hosts needs a sector_identifier_uri",
            ));
        }
        let frontchannel_logout_uri =
            channel_url("frontchannel_logout_uri", self.frontchannel_logout_uri)?;
        // Its scheme, host and port are those of a redirect URI (Front-Channel Logout §2).
        if let Some(f) = &frontchannel_logout_uri {
            let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
            if !redirect_uris
                .iter()
                .any(|r| origin(r.as_str()) == origin(f))
            {
                return Err(meta_err(
                    "frontchannel_logout_uri",
                    "must be on the scheme, host and port of a redirect URI",
                ));
            }
        }
        Ok(OpenIdOptions {
            pairwise,
            sector_identifier_uri,
            backchannel_logout_uri: channel_url(
                "backchannel_logout_uri",
                self.backchannel_logout_uri,
            )?,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            frontchannel_logout_uri,
            frontchannel_logout_session_required: self.frontchannel_logout_session_required,
            require_mfa: self.require_mfa,
        })
    }
}

/// Whether a sector identifier document (a JSON array of URIs) lists every one of
/// `redirect_uris` (OIDC Core §8.1); the message says which is missing.
pub fn check_sector_document(body: &[u8], redirect_uris: &[String]) -> Result<(), String> {
    let listed: Vec<String> = serde_json::from_slice(body)
        .map_err(|_| "the sector identifier document is not a JSON array of URIs".to_string())?;
    match redirect_uris.iter().find(|u| !listed.contains(u)) {
        Some(missing) => Err(format!(
            "the sector identifier document does not list the redirect URI '{missing}'"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        list.iter()
            .map(|u| RedirectUri::parse(u).unwrap())
            .collect()
    }

    #[test]
    fn pairwise_needs_one_host_or_a_sector_document() {
        let one = uris(&["https://a.example/cb", "https://a.example/cb2"]);
        let spec = OpenIdSpec {
            subject_type: Some("pairwise".into()),
            ..OpenIdSpec::default()
        };
        let o = spec.clone().validate(&one).unwrap();
        assert_eq!(
            o.sector(&["https://a.example/cb".into()]).as_deref(),
            Some("a.example")
        );
        let two = uris(&["https://a.example/cb", "https://b.example/cb"]);
        assert_eq!(
            spec.clone().validate(&two).unwrap_err().field,
            "sector_identifier_uri"
        );
        let with_doc = OpenIdSpec {
            sector_identifier_uri: Some("https://s.example/sector.json".into()),
            ..spec
        };
        let o = with_doc.validate(&two).unwrap();
        assert_eq!(o.sector(&[]).as_deref(), Some("s.example"));
        let bad = OpenIdSpec {
            subject_type: Some("secret".into()),
            ..OpenIdSpec::default()
        };
        assert_eq!(bad.validate(&one).unwrap_err().field, "subject_type");
    }

    #[test]
    fn logout_channels_are_checked() {
        let r = uris(&["https://a.example/cb"]);
        let front = |u: &str| OpenIdSpec {
            frontchannel_logout_uri: Some(u.into()),
            ..OpenIdSpec::default()
        };
        assert!(front("https://a.example/logout").validate(&r).is_ok());
        assert!(front("https://evil.example/logout").validate(&r).is_err());
        let back = OpenIdSpec {
            backchannel_logout_uri: Some("http://rp.example/bc".into()),
            ..OpenIdSpec::default()
        };
        assert_eq!(
            back.validate(&r).unwrap_err().field,
            "backchannel_logout_uri"
        );
    }

    #[test]
    fn sector_documents_must_list_every_redirect_uri() {
        let r = vec!["https://a.example/cb".to_string()];
        assert!(check_sector_document(br#"["https://a.example/cb"]"#, &r).is_ok());
        assert!(check_sector_document(br#"["https://b.example/cb"]"#, &r).is_err());
        assert!(check_sector_document(b"{}", &r).is_err());
    }
}
