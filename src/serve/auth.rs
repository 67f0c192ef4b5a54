//! Authentication, as the cloud does it, with the key pairs of the store's accounts
//! (`src/local/credentials.rs`). A request comes in one of these forms:
//!
//! | signature | method | parameters | action, version, region |
//! |---|---|---|---|
//! | TC3-HMAC-SHA256 (`Authorization` header) | POST | the JSON body | `X-TC-Action`, `X-TC-Version`, `X-TC-Region` |
//! | TC3-HMAC-SHA256 | GET | the query (a form) | the same headers |
//! | HmacSHA1 or HmacSHA256 (`Signature` and `SignatureMethod` parameters) | POST with a form body, or GET with the form as the query | the form's members but the common ones | the `Action`, `Version` and `Region` parameters |
//!
//! Anything else is refused. The request's timestamp must be within [`MAX_SKEW`] of now, and
//! a temporary key pair must come with its token (`X-TC-Token`, or the `Token` parameter)
//! before it expires. How signatures are matched is in [`super::signatures`]; how a form is
//! read, in [`super::form`].

use std::time::{SystemTime, UNIX_EPOCH};

use http::request::Parts;
use http::Method;
use serde_json::{json, Value};

use super::form::{self, Form, Params};
use super::signatures::{self, constant_time_eq, header, Tc3Signature};
use crate::error::{Code, Error, Result};
use crate::local::credentials::KeyPair;
use crate::local::store::Store;
use crate::model::AccountId;
use crate::tencent::sign::{self, V1Method};

/// How far a request's timestamp may be from now.
const MAX_SKEW: i64 = 300;

/// The common parameters a form may carry besides the action's own members (a v1 request
/// carries them all).
const COMMON: &[&str] = &[
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "SignatureMethod",
    "Signature",
    "Token",
    "Language",
    "RequestClient",
];

/// A request as the API sees it.
pub(super) struct ApiRequest {
    pub action: String,
    pub version: String,
    pub region: String,
    pub params: Params,
    pub account: AccountId,
}

/// Checks the request's signature exactly as the cloud does; returns the request.
pub(super) fn authenticate(store: &Store, head: &Parts, body: &[u8]) -> Result<ApiRequest> {
    if head.method != Method::POST && head.method != Method::GET {
        return Err(Error::new(
            Code::UnsupportedProtocol,
            format!(
                "{} is not served: use POST (a JSON or form body) or GET",
                head.method
            ),
        ));
    }
    if let Some(authorization) = header(head, "Authorization") {
        return tc3(store, head, body, authorization);
    }
    let form = if head.method == Method::GET {
        head.uri.query().unwrap_or("").as_bytes()
    } else if is_form(head) {
        body
    } else {
        &[]
    };
    let pairs = form::decode(form);
    if !pairs.iter().any(|(name, _)| name == "Signature") {
        return Err(Error::new(
            Code::AuthFailureInvalidAuthorization,
            "the Authorization header is missing (nor is there a Signature parameter)",
        ));
    }
    v1(store, head, &pairs)
}

/// Whether the body is a form (`application/x-www-form-urlencoded`, any parameters).
fn is_form(head: &Parts) -> bool {
    header(head, "Content-Type").is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

fn malformed() -> Error {
    Error::new(
        Code::AuthFailureInvalidAuthorization,
        "the Authorization header is malformed",
    )
}

/// The members of a `TC3-HMAC-SHA256` Authorization header.
struct Tc3Authorization<'a> {
    secret_id: &'a str,
    date: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Reads an Authorization header: `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
/// SignedHeaders=..., Signature=...`.
fn authorization(value: &str) -> Result<Tc3Authorization<'_>> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256 ").ok_or_else(|| {
        Error::new(
            Code::AuthFailureInvalidAuthorization,
            "only TC3-HMAC-SHA256 is accepted in the Authorization header",
        )
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => return Err(malformed()),
    };
    // The service is whatever lies between the date and the terminator, even with a `/`.
    let (secret_id, rest) = credential.split_once('/').ok_or_else(malformed)?;
    let (date, rest) = rest.split_once('/').ok_or_else(malformed)?;
    let service = rest.strip_suffix("/tc3_request").ok_or_else(malformed)?;
    Ok(Tc3Authorization {
        secret_id,
        date,
        service,
        signed_headers,
        signature,
    })
}

/// Refuses a timestamp more than [`MAX_SKEW`] from now.
fn check_skew(timestamp: i64) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if now.abs_diff(timestamp) > MAX_SKEW as u64 {
        return Err(Error::new(
            Code::AuthFailureSignatureExpire,
            "the request timestamp is more than 5 minutes from the server's time",
        ));
    }
    Ok(())
}

/// The key pair a SecretId names.
fn key_pair(store: &Store, secret_id: &str) -> Result<KeyPair> {
    store.key_pair(secret_id)?.ok_or_else(|| {
        Error::new(
            Code::AuthFailureSecretIdNotFound,
            "the SecretId is not known to this store (or was revoked)",
        )
    })
}

fn signature_failure() -> Error {
    Error::new(
        Code::AuthFailureSignatureFailure,
        "The provided credentials could not be validated. Please check your signature is correct.",
    )
}

/// A temporary key pair needs its own token, before it expires; a permanent one takes none.
///
/// The cloud documents `AuthFailure.TokenFailure` for a token that is wrong; which code it
/// gives for an expired one is not documented in the sources imagefs follows, so an expired
/// token gets `AuthFailure.TokenFailure` too.
fn check_token(pair: &KeyPair, sent: Option<&str>) -> Result<()> {
    let refuse = |message: String| Error::new(Code::AuthFailureTokenFailure, message);
    let sent = sent.filter(|token| !token.is_empty());
    let Some(temporary) = &pair.temporary else {
        return match sent {
            None => Ok(()),
            Some(_) => Err(refuse(
                "a token came with a permanent key pair: send it only with temporary credentials"
                    .into(),
            )),
        };
    };
    let Some(sent) = sent else {
        return Err(refuse(
            "temporary credentials need their token (X-TC-Token, or the Token parameter)".into(),
        ));
    };
    if !constant_time_eq(temporary.token.as_bytes(), sent.as_bytes()) {
        return Err(refuse(
            "Token verification failed, please check if your Token is correct".into(),
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if now >= temporary.expires {
        let ended = time::OffsetDateTime::from_unix_timestamp(temporary.expires)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        return Err(refuse(format!(
            "the temporary credentials expired at {ended}"
        )));
    }
    Ok(())
}

/// A TC3-HMAC-SHA256 request: a POST with a JSON body, or a GET with its parameters in the
/// query.
fn tc3(store: &Store, head: &Parts, body: &[u8], authorization_header: &str) -> Result<ApiRequest> {
    let auth = authorization(authorization_header)?;
    let timestamp: i64 = header(head, "X-TC-Timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            Error::new(
                Code::MissingParameter,
                "the X-TC-Timestamp header is missing",
            )
        })?;
    check_skew(timestamp)?;
    if auth.date != sign::utc_date(timestamp) {
        return Err(Error::new(
            Code::AuthFailureSignatureFailure,
            "the credential date does not match the timestamp",
        ));
    }
    let signed_headers: Vec<&str> = auth.signed_headers.split(';').collect();
    if !signed_headers.contains(&"content-type") || !signed_headers.contains(&"host") {
        return Err(Error::new(
            Code::AuthFailureSignatureFailure,
            format!(
                "SignedHeaders {} must include content-type and host",
                auth.signed_headers
            ),
        ));
    }
    let pair = key_pair(store, auth.secret_id)?;
    let claimed = Tc3Signature {
        service: auth.service,
        signed_headers,
        signature: auth.signature,
        timestamp,
    };
    if !signatures::tc3_matches(head, body, &pair.secret_key, &claimed) {
        return Err(signature_failure());
    }
    check_token(&pair, header(head, "X-TC-Token"))?;
    let params = if head.method == Method::GET {
        let pairs = form::decode(head.uri.query().unwrap_or("").as_bytes());
        Params::Form(Form::new(members(&pairs))?)
    } else {
        Params::Json(json_params(body)?)
    };
    Ok(ApiRequest {
        action: header(head, "X-TC-Action").unwrap_or_default().to_string(),
        version: header(head, "X-TC-Version").unwrap_or_default().to_string(),
        region: header(head, "X-TC-Region").unwrap_or_default().to_string(),
        params,
        account: pair.account,
    })
}

/// A v1 (HmacSHA1, HmacSHA256) request: its form parameters, decoded.
fn v1(store: &Store, head: &Parts, pairs: &[(String, String)]) -> Result<ApiRequest> {
    let common = |name: &str| -> Result<Option<&str>> {
        let mut values = pairs.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, value)| value.as_str());
        if values.next().is_some() {
            return Err(Error::new(
                Code::InvalidParameter,
                format!("the parameter `{name}` is given twice"),
            ));
        }
        Ok(first)
    };
    let required = |name: &str| -> Result<&str> {
        common(name)?.ok_or_else(|| {
            Error::new(
                Code::MissingParameter,
                format!("the {name} parameter is missing"),
            )
        })
    };
    let signature = required("Signature")?;
    let method = match common("SignatureMethod")? {
        // The API's documentation: without SignatureMethod, the signature is HmacSHA1.
        None => V1Method::HmacSha1,
        Some(name) => V1Method::parse(name).ok_or_else(|| {
            Error::new(
                Code::AuthFailureSignatureFailure,
                format!("SignatureMethod `{name}` is not HmacSHA1, HmacSHA256 or TC3-HMAC-SHA256"),
            )
        })?,
    };
    let timestamp: i64 = required("Timestamp")?.parse().map_err(|_| {
        Error::new(
            Code::InvalidParameter,
            "the Timestamp parameter is not a number",
        )
    })?;
    check_skew(timestamp)?;
    required("Nonce")?;
    let action = required("Action")?.to_string();
    let version = required("Version")?.to_string();
    let region = common("Region")?.unwrap_or_default().to_string();
    let pair = key_pair(store, required("SecretId")?)?;
    if !signatures::v1_matches(head, pairs, method, &pair.secret_key, signature) {
        return Err(signature_failure());
    }
    check_token(&pair, common("Token")?)?;
    Ok(ApiRequest {
        action,
        version,
        region,
        params: Params::Form(Form::new(members(pairs))?),
        account: pair.account,
    })
}

/// A form's pairs but the common parameters: the action's own members. (A TC3 GET carries the
/// common parameters in headers; any it also puts in its query are set apart the same way.)
fn members(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs
        .iter()
        .filter(|(name, _)| !COMMON.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

/// The body's JSON object (an empty body is an empty object).
fn json_params(body: &[u8]) -> Result<Value> {
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Error::new(
                Code::InvalidParameter,
                format!("the request body is not JSON: {e}"),
            )
        })?
    };
    if !params.is_object() {
        return Err(Error::new(
            Code::InvalidParameter,
            "the request body must be a JSON object",
        ));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(json_params(b"").unwrap(), json!({}));
        assert_eq!(json_params(b"{\"A\": 1}").unwrap(), json!({"A": 1}));
        let not_json = json_params(b"{not json").unwrap_err();
        assert_eq!(not_json.code(), Code::InvalidParameter);
        assert!(not_json
            .message()
            .starts_with("the request body is not JSON"));
        let array = json_params(b"[1]").unwrap_err();
        assert_eq!(array.message(), "the request body must be a JSON object");
    }

    #[test]
    fn authorization_headers_name_any_service() {
        let auth = authorization(
            "TC3-HMAC-SHA256 Credential=AKID1/2026-01-01/localhost:8443/tc3_request, SignedHeaders=content-type;host, Signature=abc",
        )
        .unwrap();
        assert_eq!(
            (auth.secret_id, auth.date, auth.service),
            ("AKID1", "2026-01-01", "localhost:8443")
        );
        assert_eq!(
            (auth.signed_headers, auth.signature),
            ("content-type;host", "abc")
        );
        for bad in [
            "HMAC-SHA1 Credential=x",
            "TC3-HMAC-SHA256 Credential=AKID1/2026-01-01/cvm/other, SignedHeaders=host, Signature=a",
            "TC3-HMAC-SHA256 Credential=AKID1/2026-01-01, SignedHeaders=host, Signature=a",
            "TC3-HMAC-SHA256 Credential=AKID1/2026-01-01/cvm/tc3_request, Signature=a",
        ] {
            assert!(
                authorization(bad)
                    .err()
                    .is_some_and(|e| e.is(Code::AuthFailureInvalidAuthorization)),
                "{bad}"
            );
        }
    }

    fn pair(temporary: Option<(&str, i64)>) -> KeyPair {
        KeyPair {
            account: AccountId::parse("100000000001").unwrap(),
            secret_key: "key".into(),
            temporary: temporary.map(|(token, expires)| crate::local::credentials::Temporary {
                token: token.into(),
                expires,
            }),
        }
    }

    #[test]
    fn tokens_belong_to_temporary_pairs_until_they_expire() {
        let later = i64::MAX;
        assert!(check_token(&pair(None), None).is_ok());
        assert!(check_token(&pair(None), Some("")).is_ok());
        assert!(check_token(&pair(Some(("tok", later))), Some("tok")).is_ok());
        for (held, sent) in [
            (pair(None), Some("tok")),
            (pair(Some(("tok", later))), None),
            (pair(Some(("tok", later))), Some("tok2")),
            (pair(Some(("tok", later))), Some("to")),
            (pair(Some(("tok", 1))), Some("tok")),
        ] {
            assert!(
                check_token(&held, sent)
                    .err()
                    .is_some_and(|e| e.is(Code::AuthFailureTokenFailure)),
                "{sent:?}"
            );
        }
        let expired = check_token(&pair(Some(("tok", 1))), Some("tok")).unwrap_err();
        assert!(
            expired
                .message()
                .contains("expired at 1970-01-01T00:00:01Z"),
            "{expired}"
        );
    }
}
