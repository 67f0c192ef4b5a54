//! Authentication: the TC3-HMAC-SHA256 signature checked exactly as the cloud does, with the
//! key pairs of the store's accounts, and the request's timestamp within [`MAX_SKEW`] of now.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use http::request::Parts;

use crate::error::{Code, Error, Result};
use crate::local::store::Store;
use crate::model::AccountId;
use crate::tencent::sign;

/// How far a request's timestamp may be from now.
const MAX_SKEW: i64 = 300;

/// A request as the API sees it.
pub(super) struct ApiRequest {
    pub service: String,
    pub action: String,
    pub version: String,
    pub region: String,
    pub params: Value,
    pub account: AccountId,
}

/// The members of a `TC3-HMAC-SHA256` Authorization header.
struct Authorization<'a> {
    secret_id: &'a str,
    date: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn malformed() -> Error {
    Error::new(
        Code::AuthFailureInvalidAuthorization,
        "the Authorization header is malformed",
    )
}

/// Reads the Authorization header: `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
/// SignedHeaders=..., Signature=...`.
fn authorization(head: &Parts) -> Result<Authorization<'_>> {
    let auth = header(head, "Authorization").ok_or_else(|| {
        Error::new(
            Code::AuthFailureInvalidAuthorization,
            "the Authorization header is missing",
        )
    })?;
    let rest = auth.strip_prefix("TC3-HMAC-SHA256 ").ok_or_else(|| {
        Error::new(
            Code::AuthFailureInvalidAuthorization,
            "only TC3-HMAC-SHA256 is accepted",
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
    let mut scope = credential.split('/');
    let (secret_id, date, service, terminator) =
        match (scope.next(), scope.next(), scope.next(), scope.next()) {
            (Some(i), Some(d), Some(s), Some(t)) => (i, d, s, t),
            _ => return Err(malformed()),
        };
    if terminator != "tc3_request" {
        return Err(malformed());
    }
    Ok(Authorization {
        secret_id,
        date,
        service,
        signed_headers,
        signature,
    })
}

/// The request's `X-TC-Timestamp`, which must be within [`MAX_SKEW`] of now and fall on the
/// credential's date.
fn timestamp(head: &Parts, date: &str) -> Result<i64> {
    let timestamp: i64 = header(head, "X-TC-Timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            Error::new(
                Code::MissingParameter,
                "the X-TC-Timestamp header is missing",
            )
        })?;
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
    if date != sign::utc_date(timestamp) {
        return Err(Error::new(
            Code::AuthFailureSignatureFailure,
            "the credential date does not match the timestamp",
        ));
    }
    Ok(timestamp)
}

/// Checks the request's signature exactly as the cloud does; returns the request.
pub(super) fn authenticate(store: &Store, head: &Parts, body: &[u8]) -> Result<ApiRequest> {
    let auth = authorization(head)?;
    let timestamp = timestamp(head, auth.date)?;
    if header(head, "X-TC-Token").is_some_and(|t| !t.is_empty()) {
        // The cloud checks a token against the temporary credentials it issued; this server
        // issues none, so no token can be valid.
        return Err(Error::new(
            Code::AuthFailureTokenFailure,
            "this server issues no temporary credentials: send requests without X-TC-Token",
        ));
    }
    let (account, secret_key) = store.key(auth.secret_id)?.ok_or_else(|| {
        Error::new(
            Code::AuthFailureSecretIdNotFound,
            "the SecretId is not known to this store",
        )
    })?;
    let action = header(head, "X-TC-Action").unwrap_or_default().to_string();
    let sign_action = match auth.signed_headers {
        "content-type;host" => false,
        "content-type;host;x-tc-action" => true,
        other => {
            return Err(Error::new(
                Code::AuthFailureSignatureFailure,
                format!("unsupported SignedHeaders {other}"),
            ))
        }
    };
    let expected = sign::Request {
        secret_id: auth.secret_id,
        secret_key: &secret_key,
        service: auth.service,
        host: header(head, "Host").unwrap_or_default(),
        action: &action,
        content_type: header(head, "Content-Type").unwrap_or_default(),
        timestamp,
        payload: body,
        sign_action,
    }
    .signature();
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(Error::new(
            Code::AuthFailureSignatureFailure,
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    Ok(ApiRequest {
        service: auth.service.to_string(),
        action,
        version: header(head, "X-TC-Version").unwrap_or_default().to_string(),
        region: header(head, "X-TC-Region").unwrap_or_default().to_string(),
        params: body_params(body)?,
        account,
    })
}

/// The body's JSON object (an empty body is an empty object).
fn body_params(body: &[u8]) -> Result<Value> {
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

/// A request header's value (names are matched in any case); `None` when it is absent or
/// not visible ASCII.
fn header<'a>(head: &'a Parts, name: &str) -> Option<&'a str> {
    head.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Compares two signatures in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(body_params(b"").unwrap(), json!({}));
        assert_eq!(body_params(b"{\"A\": 1}").unwrap(), json!({"A": 1}));
        let not_json = body_params(b"{not json").unwrap_err();
        assert_eq!(not_json.code(), Code::InvalidParameter);
        assert!(not_json
            .message()
            .starts_with("the request body is not JSON"));
        let array = body_params(b"[1]").unwrap_err();
        assert_eq!(array.message(), "the request body must be a JSON object");
    }
}
