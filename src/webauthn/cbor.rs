//! A minimal, strict CBOR (RFC 8949) decoder for the few structures WebAuthn carries:
//! the attestation object, COSE keys and authenticator extensions.
//!
//! Why our own: the inputs come straight from a browser, so anything that can make a
//! general-purpose decoder allocate, recurse or guess is a liability. This decoder
//! borrows from the input (no copies), accepts definite lengths only, refuses tags,
//! floats and undefined, limits nesting, refuses duplicate map keys (a COSE key with
//! two `alg` entries must not be read two ways) and checks every declared length
//! against the bytes that actually remain, so a header announcing 2^32 bytes costs
//! nothing. Non-shortest length encodings are accepted: they are well-formed CBOR,
//! and the key bytes are stored verbatim, so refusing them would only lose
//! authenticators without gaining safety.

use std::collections::BTreeSet;

/// How deeply arrays and maps may nest; WebAuthn structures need about four levels.
pub const MAX_DEPTH: usize = 16;

/// A decoded CBOR item, borrowing strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An unsigned (major type 0) or negative (major type 1) integer; `i128` holds
    /// the full range -2^64..2^64-1 of both.
    Int(i128),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(Vec<Value<'a>>),
    /// Entries in input order; keys are unique.
    Map(Vec<(Key<'a>, Value<'a>)>),
    Bool(bool),
    Null,
}

/// A map key. WebAuthn only uses integer (COSE labels) and text (attestation object)
/// keys, so anything else is refused rather than compared structurally.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key<'a> {
    Int(i128),
    Text(&'a str),
}

/// Why a CBOR input was refused. These never reach a person directly; the WebAuthn
/// layer reports them all as malformed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    #[error("CBOR input ended early")]
    Truncated,
    #[error("CBOR indefinite lengths are not accepted")]
    Indefinite,
    #[error("unsupported CBOR item (tag, float or unknown simple value)")]
    Unsupported,
    #[error("CBOR nesting is too deep")]
    TooDeep,
    #[error("CBOR text is not UTF-8")]
    InvalidUtf8,
    #[error("CBOR map key is neither an integer nor text")]
    BadKey,
    #[error("CBOR map has a duplicate key")]
    DuplicateKey,
    #[error("bytes follow the CBOR item")]
    TrailingBytes,
}

impl<'a> Value<'a> {
    /// The entries of a map, or `None` for any other item.
    pub fn as_map(&self) -> Option<&[(Key<'a>, Value<'a>)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Looks up `key` in a decoded map's entries.
pub fn map_get<'v, 'a>(
    entries: &'v [(Key<'a>, Value<'a>)],
    key: &Key<'_>,
) -> Option<&'v Value<'a>> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Decodes exactly one item at the start of `input` and returns it with the number
/// of bytes it took, so callers can find where an embedded item (the COSE key inside
/// authenticator data) ends.
pub fn decode(input: &[u8]) -> Result<(Value<'_>, usize), CborError> {
    let mut reader = Reader { input, pos: 0 };
    let value = reader.item(0)?;
    Ok((value, reader.pos))
}

/// Decodes one item that must fill `input` entirely.
pub fn decode_exact(input: &[u8]) -> Result<Value<'_>, CborError> {
    let (value, used) = decode(input)?;
    if used != input.len() {
        return Err(CborError::TrailingBytes);
    }
    Ok(value)
}

/// A cursor over the input; `pos` never exceeds `input.len()`.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.input.get(self.pos).ok_or(CborError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Takes `len` bytes, refusing before any allocation or overflow if fewer remain.
    fn take(&mut self, len: u64) -> Result<&'a [u8], CborError> {
        let len = usize::try_from(len).map_err(|_| CborError::Truncated)?;
        if len > self.remaining() {
            return Err(CborError::Truncated);
        }
        let end = self.pos + len;
        let slice = self.input.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    /// Reads the argument that follows an initial byte's additional information.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Err(CborError::Indefinite),
            _ => return Err(CborError::Unsupported),
        };
        let bytes = self.take(width)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// Decodes one item; `depth` counts the arrays and maps around it.
    fn item(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if major == 7 {
            return simple(info);
        }
        let arg = self.argument(info)?;
        match major {
            0 => Ok(Value::Int(i128::from(arg))),
            1 => Ok(Value::Int(-1 - i128::from(arg))),
            2 => Ok(Value::Bytes(self.take(arg)?)),
            3 => {
                let raw = self.take(arg)?;
                let text = std::str::from_utf8(raw).map_err(|_| CborError::InvalidUtf8)?;
                Ok(Value::Text(text))
            }
            4 => self.array(arg, depth + 1),
            5 => self.map(arg, depth + 1),
            _ => Err(CborError::Unsupported),
        }
    }

    /// Each element takes at least one byte, so a count beyond the remaining input
    /// is refused up front and the vector never grows past what the input can fill.
    fn array(&mut self, count: u64, depth: usize) -> Result<Value<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let count = usize::try_from(count).map_err(|_| CborError::Truncated)?;
        if count > self.remaining() {
            return Err(CborError::Truncated);
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.item(depth)?);
        }
        Ok(Value::Array(items))
    }

    /// Each entry takes at least two bytes; duplicate keys are found through an
    /// ordered set, so a large map cannot make the check quadratic.
    fn map(&mut self, count: u64, depth: usize) -> Result<Value<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let count = usize::try_from(count).map_err(|_| CborError::Truncated)?;
        if count > self.remaining() / 2 {
            return Err(CborError::Truncated);
        }
        let mut entries = Vec::with_capacity(count);
        let mut seen = BTreeSet::new();
        for _ in 0..count {
            let key = match self.item(depth)? {
                Value::Int(i) => Key::Int(i),
                Value::Text(t) => Key::Text(t),
                _ => return Err(CborError::BadKey),
            };
            if !seen.insert(key.clone()) {
                return Err(CborError::DuplicateKey);
            }
            let value = self.item(depth)?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// Major type 7: only false, true and null have a use in WebAuthn.
fn simple<'a>(info: u8) -> Result<Value<'a>, CborError> {
    match info {
        20 => Ok(Value::Bool(false)),
        21 => Ok(Value::Bool(true)),
        22 => Ok(Value::Null),
        31 => Err(CborError::Indefinite),
        _ => Err(CborError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_cover_both_ends() {
        assert_eq!(decode_exact(&[0x00]), Ok(Value::Int(0)));
        assert_eq!(decode_exact(&[0x17]), Ok(Value::Int(23)));
        assert_eq!(decode_exact(&[0x18, 0x18]), Ok(Value::Int(24)));
        assert_eq!(decode_exact(&[0x19, 0x01, 0x00]), Ok(Value::Int(256)));
        assert_eq!(decode_exact(&[0x20]), Ok(Value::Int(-1)));
        assert_eq!(decode_exact(&[0x26]), Ok(Value::Int(-7)));
        assert_eq!(decode_exact(&[0x39, 0x01, 0x00]), Ok(Value::Int(-257)));
        let max = [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode_exact(&max), Ok(Value::Int(i128::from(u64::MAX))));
        let mut min = max;
        min[0] = 0x3b;
        assert_eq!(
            decode_exact(&min),
            Ok(Value::Int(-1 - i128::from(u64::MAX)))
        );
    }

    #[test]
    fn strings_simple_values_and_consumed_length() {
        assert_eq!(decode_exact(&[0x43, 1, 2, 3]), Ok(Value::Bytes(&[1, 2, 3])));
        assert_eq!(decode_exact(b"\x63fmt"), Ok(Value::Text("fmt")));
        assert_eq!(decode_exact(&[0xf4]), Ok(Value::Bool(false)));
        assert_eq!(decode_exact(&[0xf5]), Ok(Value::Bool(true)));
        assert_eq!(decode_exact(&[0xf6]), Ok(Value::Null));
        // One item, then unrelated bytes: decode reports where the item ended.
        assert_eq!(
            decode(&[0x82, 0x01, 0x02, 0xff]),
            Ok((Value::Array(vec![Value::Int(1), Value::Int(2)]), 3))
        );
        assert_eq!(decode_exact(&[0x01, 0x02]), Err(CborError::TrailingBytes));
    }

    #[test]
    fn maps_with_integer_and_text_keys() {
        // {1: 2, "a": h'00'}
        let map = decode_exact(&[0xa2, 0x01, 0x02, 0x61, b'a', 0x41, 0x00]).unwrap();
        let entries = map.as_map().unwrap();
        assert_eq!(map_get(entries, &Key::Int(1)), Some(&Value::Int(2)));
        assert_eq!(map_get(entries, &Key::Text("a")), Some(&Value::Bytes(&[0])));
        assert_eq!(map_get(entries, &Key::Int(3)), None);
        assert_eq!(Value::Int(1).as_map(), None);
    }

    #[test]
    fn refuses_indefinite_lengths() {
        assert_eq!(
            decode(&[0xbf, 0x01, 0x02, 0xff]),
            Err(CborError::Indefinite)
        );
        assert_eq!(decode(&[0x9f, 0xff]), Err(CborError::Indefinite));
        assert_eq!(
            decode(&[0x5f, 0x41, 0x00, 0xff]),
            Err(CborError::Indefinite)
        );
        assert_eq!(decode(&[0x7f, 0xff]), Err(CborError::Indefinite));
        assert_eq!(decode(&[0xff]), Err(CborError::Indefinite));
    }

    #[test]
    fn huge_declared_lengths_fail_without_allocating() {
        // A byte string declaring 2^32 bytes, then two bytes of input.
        assert_eq!(
            decode(&[0x5b, 0, 0, 0, 1, 0, 0, 0, 0, 0xaa, 0xbb]),
            Err(CborError::Truncated)
        );
        assert_eq!(
            decode(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        assert_eq!(
            decode(&[0x7a, 0xff, 0xff, 0xff, 0xff, b'a']),
            Err(CborError::Truncated)
        );
        assert_eq!(
            decode(&[0x9a, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(CborError::Truncated)
        );
        assert_eq!(
            decode(&[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        // Two map entries need at least four bytes.
        assert_eq!(decode(&[0xa2, 0x01, 0x02, 0x03]), Err(CborError::Truncated));
    }

    #[test]
    fn refuses_deep_nesting_but_allows_the_limit() {
        let mut ok = vec![0x81; MAX_DEPTH];
        ok.push(0x00);
        assert!(decode_exact(&ok).is_ok());
        let mut deep = vec![0x81; MAX_DEPTH + 1];
        deep.push(0x00);
        assert_eq!(decode(&deep), Err(CborError::TooDeep));
        let mut maps = [0xa1, 0x01].repeat(MAX_DEPTH + 1);
        maps.push(0x00);
        assert_eq!(decode(&maps), Err(CborError::TooDeep));
        // Far deeper than the stack could take if depth were unchecked.
        assert_eq!(decode(&vec![0x81; 100_000]), Err(CborError::TooDeep));
    }

    #[test]
    fn refuses_tags_floats_bad_keys_duplicates_and_bad_utf8() {
        assert_eq!(decode(&[0xc0, 0x60]), Err(CborError::Unsupported));
        assert_eq!(decode(&[0xf9, 0x3c, 0x00]), Err(CborError::Unsupported));
        assert_eq!(decode(&[0xf7]), Err(CborError::Unsupported));
        assert_eq!(decode(&[0x1c]), Err(CborError::Unsupported));
        assert_eq!(decode(&[0xa1, 0x41, 0x00, 0x01]), Err(CborError::BadKey));
        assert_eq!(
            decode(&[0xa2, 0x03, 0x26, 0x03, 0x27]),
            Err(CborError::DuplicateKey)
        );
        assert_eq!(decode(&[0x62, 0xc3, 0x28]), Err(CborError::InvalidUtf8));
    }

    #[test]
    fn every_prefix_of_a_nested_item_is_truncated() {
        // {"a": [1, h'0102', "xy", {-1: true}]}
        let full = [
            0xa1, 0x61, b'a', 0x84, 0x01, 0x42, 0x01, 0x02, 0x62, b'x', b'y', 0xa1, 0x20, 0xf5,
        ];
        assert!(decode_exact(&full).is_ok());
        for len in 0..full.len() {
            assert_eq!(
                decode(&full[..len]),
                Err(CborError::Truncated),
                "prefix {len}"
            );
        }
    }
}
