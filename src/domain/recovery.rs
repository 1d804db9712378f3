//! Recovery codes: ten single-use codes a person keeps on paper for the day their
//! authenticator is lost. Each has 50 random bits, enough that a hash (not argon2) keeps
//! them safe at rest while guesses are throttled like passwords.

use crate::crypto::{random_bytes, secret_hash};

/// Codes in a set.
pub const COUNT: usize = 10;

/// Lower-case letters and digits without l, o, 0 and 1, which are mistaken for one
/// another when copied by hand.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A new set of codes as shown to the person: `xxxxx-xxxxx`.
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let bytes = random_bytes(10);
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b & 31)] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// The stored form of a code as typed: case, spaces and dashes do not matter. `None`
/// for text that cannot be a recovery code.
pub fn hash_typed(typed: &str) -> Option<String> {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = normal.len() == 10 && normal.bytes().all(|b| ALPHABET.contains(&b));
    valid.then(|| secret_hash(&format!("recovery:{normal}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_hash_as_typed() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let hashes: std::collections::HashSet<_> =
            codes.iter().map(|c| hash_typed(c).unwrap()).collect();
        assert_eq!(hashes.len(), COUNT);
        let c = &codes[0];
        assert_eq!(hash_typed(&c.to_uppercase()), hash_typed(c));
        assert_eq!(hash_typed(&c.replace('-', " ")), hash_typed(c));
        assert_eq!(hash_typed("123456"), None);
        assert_eq!(hash_typed("abcde-abcd1"), None);
    }
}
