use std::collections::BTreeSet;

/// A set of scope tokens (RFC 6749 §3.3), kept sorted and de-duplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

/// The scope that grants gatehouse's own administration API. Only an administrator
/// can put it on a client; consent and dynamic registration never grant it.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";

/// Scopes of OpenID Connect every user-facing client may request.
pub const STANDARD_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

impl Scopes {
    /// Parses a space-delimited list; `None` if a token has characters RFC 6749 forbids.
    pub fn parse(raw: &str) -> Option<Scopes> {
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !token
                .chars()
                .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
            {
                return None;
            }
            set.insert(token.to_string());
        }
        Some(Scopes(set))
    }

    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Scopes {
        Scopes(items.into_iter().map(Into::into).collect())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The scopes of `self` that are not in `allowed`.
    pub fn outside<'a>(&'a self, allowed: &'a Scopes) -> impl Iterator<Item = &'a str> {
        self.0.difference(&allowed.0).map(String::as_str)
    }

    /// The scopes in `self` or `other`.
    pub fn union(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.union(&other.0).cloned().collect())
    }

    /// The scopes in both `self` and `other`.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn insert(&mut self, scope: &str) {
        self.0.insert(scope.to_string());
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<&str> = self.iter().collect();
        f.write_str(&v.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let s = Scopes::parse("profile openid  profile").unwrap();
        assert_eq!(s.to_string(), "openid profile");
        assert!(Scopes::parse("bad\"quote").is_none());
        assert!(Scopes::parse("a\\b").is_none());
        let allowed = Scopes::parse("openid email").unwrap();
        assert_eq!(s.outside(&allowed).collect::<Vec<_>>(), vec!["profile"]);
    }
}
