//! Reading request parameters: query strings, form bodies and JSON bodies, each parameter at
//! most once (RFC 6749 §3.1) and in UTF-8.

use crate::grant::Params;
use crate::grant::client_auth::decode_component;

/// Why parameters could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A parameter appeared more than once.
    #[error("parameter {0} is repeated")]
    Duplicate(String),
    /// A name or value is not UTF-8 once decoded.
    #[error("parameters must be UTF-8")]
    NotUtf8,
    /// A JSON body that is not an object of strings.
    #[error("a JSON body must be an object of string values")]
    NotAJsonObject,
    /// A content type other than form or JSON.
    #[error("use application/x-www-form-urlencoded (or application/json)")]
    UnsupportedContentType,
}

fn decode(raw: &[u8]) -> Result<String, ParamsError> {
    decode_component(raw).ok_or(ParamsError::NotUtf8)
}

/// Parses `application/x-www-form-urlencoded` text (a body or a query string). Empty values
/// count as absent, as RFC 6749 §3.1 says.
pub fn parse_form(raw: &[u8]) -> Result<Params, ParamsError> {
    let (params, repeated) = parse_form_keeping_first(raw)?;
    match repeated.into_iter().next() {
        Some(name) => Err(ParamsError::Duplicate(name)),
        None => Ok(params),
    }
}

/// Like [`parse_form`], but keeps the first value of a repeated parameter and lists the
/// repeated names, so an error can still be sent to a verified redirect URI.
pub fn parse_form_keeping_first(raw: &[u8]) -> Result<(Params, Vec<String>), ParamsError> {
    let mut params = Params::new();
    let mut repeated = Vec::new();
    for pair in raw
        .split(|byte| *byte == b'&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let (name, value) = (decode(name)?, decode(value)?);
        if value.is_empty() {
            continue;
        }
        if !params.contains(&name) {
            params.insert_first(name, value);
        } else {
            repeated.push(name);
        }
    }
    Ok((params, repeated))
}

/// Parses a JSON object body whose values are strings (some SDKs send token requests so).
pub fn parse_json(raw: &[u8]) -> Result<Params, ParamsError> {
    let Entries(entries) = serde_json::from_slice(raw).map_err(|_| ParamsError::NotAJsonObject)?;
    let mut params = Params::new();
    for (name, value) in entries {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(text) if text.is_empty() => continue,
            serde_json::Value::String(text) => text,
            _ => return Err(ParamsError::NotAJsonObject),
        };
        if params.contains(&name) {
            return Err(ParamsError::Duplicate(name));
        }
        params.insert_first(name, text);
    }
    Ok(params)
}

/// A JSON object's members in order, repeats included (a map would keep only the last).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Parses a body by its content type: form (the standard) or JSON.
pub fn parse_body(content_type: Option<&str>, raw: &[u8]) -> Result<Params, ParamsError> {
    let media_type = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("application/x-www-form-urlencoded") => parse_form(raw),
        Some("application/json") => parse_json(raw),
        _ => Err(ParamsError::UnsupportedContentType),
    }
}
