//! The signatures of Tencent Cloud API 3.0: TC3-HMAC-SHA256, and the older HmacSHA1 and
//! HmacSHA256 ("v1") the SDKs still offer. The client ([`crate::tencent::client`]) signs with
//! [`Request`]; `imagefs serve` checks what it receives with [`Canonical`], [`Tc3Key`] and
//! [`v1_signature`].

use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// What a client request signs with TC3. Its `Debug` never shows the secret key.
#[derive(Clone)]
pub struct Request<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The service of the credential scope, `cvm`.
    pub service: &'a str,
    pub host: &'a str,
    pub action: &'a str,
    pub content_type: &'a str,
    /// Unix seconds (`X-TC-Timestamp`).
    pub timestamp: i64,
    pub payload: &'a [u8],
    /// Whether `x-tc-action` is among the signed headers (the current official form); the SDKs
    /// sign only `content-type;host`.
    pub sign_action: bool,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("action", &self.action)
            .field("timestamp", &self.timestamp)
            .field("secret_key", &"(hidden)")
            .finish()
    }
}

/// The lowercase hex SHA-256 of `data` (a TC3 payload hash).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The HMAC of `message` under `key` with the hash of `M`.
fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice cannot fail here.
    let mut mac = match <M as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    mac::<HmacSha256>(key, message)
}

/// `YYYY-MM-DD`, the UTC date of a timestamp.
pub fn utc_date(timestamp: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    dt.format(&fmt).unwrap_or_default()
}

/// What TC3 signs of a request: its method, path, query, signed headers and payload hash.
#[derive(Debug, Clone)]
pub struct Canonical<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// `/`.
    pub path: &'a str,
    /// The query exactly as sent (empty for a POST).
    pub query: &'a str,
    /// The signed headers, in `SignedHeaders` order: lowercase names and their values as
    /// they are signed.
    pub headers: &'a [(&'a str, &'a str)],
    /// [`sha256_hex`] of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: &'a str,
}

impl Canonical<'_> {
    /// `SignedHeaders`: the names, joined by `;`.
    pub fn signed_headers(&self) -> String {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        names.join(";")
    }

    /// The canonical request, whose hash the string to sign carries.
    pub fn request(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.method, self.path, self.query);
        for (name, value) in self.headers {
            text.push_str(name);
            text.push(':');
            text.push_str(value);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.signed_headers());
        text.push('\n');
        text.push_str(self.payload_hash);
        text
    }
}

/// The key TC3 derives from a SecretKey for one date and service, and the scope it signs in.
pub struct Tc3Key {
    signing_key: Vec<u8>,
    timestamp: i64,
    scope: String,
}

impl Tc3Key {
    /// The key for requests of `service` at `timestamp` (its UTC date).
    pub fn new(secret_key: &str, service: &str, timestamp: i64) -> Tc3Key {
        let date = utc_date(timestamp);
        let dated = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
        let serviced = hmac(&dated, service.as_bytes());
        Tc3Key {
            signing_key: hmac(&serviced, b"tc3_request"),
            timestamp,
            scope: format!("{date}/{service}/tc3_request"),
        }
    }

    /// `DATE/SERVICE/tc3_request`.
    pub fn credential_scope(&self) -> &str {
        &self.scope
    }

    pub fn string_to_sign(&self, canonical_request: &str) -> String {
        format!(
            "TC3-HMAC-SHA256\n{}\n{}\n{}",
            self.timestamp,
            self.scope,
            sha256_hex(canonical_request.as_bytes())
        )
    }

    /// The hex signature of a canonical request.
    pub fn sign(&self, canonical_request: &str) -> String {
        hex::encode(hmac(
            &self.signing_key,
            self.string_to_sign(canonical_request).as_bytes(),
        ))
    }
}

impl Request<'_> {
    pub fn signed_headers(&self) -> &'static str {
        if self.sign_action {
            "content-type;host;x-tc-action"
        } else {
            "content-type;host"
        }
    }

    pub fn canonical_request(&self) -> String {
        let content_type = self.content_type.trim().to_lowercase();
        let host = self.host.trim().to_lowercase();
        let action = self.action.to_lowercase();
        let mut headers = vec![("content-type", content_type.as_str()), ("host", &host)];
        if self.sign_action {
            headers.push(("x-tc-action", &action));
        }
        Canonical {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload_hash: &sha256_hex(self.payload),
        }
        .request()
    }

    fn key(&self) -> Tc3Key {
        Tc3Key::new(self.secret_key, self.service, self.timestamp)
    }

    pub fn credential_scope(&self) -> String {
        self.key().credential_scope().to_string()
    }

    pub fn string_to_sign(&self) -> String {
        self.key().string_to_sign(&self.canonical_request())
    }

    pub fn signature(&self) -> String {
        self.key().sign(&self.canonical_request())
    }

    /// The `Authorization` header.
    pub fn authorization(&self) -> String {
        format!(
            "TC3-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
            self.secret_id,
            self.credential_scope(),
            self.signed_headers(),
            self.signature()
        )
    }
}

/// The older signature methods, named by a request's `SignatureMethod` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Method {
    HmacSha1,
    HmacSha256,
}

impl V1Method {
    /// The method a `SignatureMethod` value names (`HmacSHA1`, `HmacSHA256`).
    pub fn parse(name: &str) -> Option<V1Method> {
        match name {
            "HmacSHA1" => Some(V1Method::HmacSha1),
            "HmacSHA256" => Some(V1Method::HmacSha256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            V1Method::HmacSha1 => "HmacSHA1",
            V1Method::HmacSha256 => "HmacSHA256",
        }
    }
}

/// What a v1 signature signs: `METHOD` `host` `path` `?` and the parameters (all but
/// `Signature`) as `name=value` joined by `&`, sorted by name, values as they are (not
/// URL-encoded). A `_` in a name is signed as `.`, as the Python SDK and the API's
/// documentation do.
pub fn v1_string_to_sign(method: &str, host: &str, path: &str, params: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, &str)> = params
        .iter()
        .map(|(name, value)| (name.replace('_', "."), *value))
        .collect();
    pairs.sort_unstable();
    let joined: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!("{method}{host}{path}?{}", joined.join("&"))
}

/// A v1 signature: base64 (standard, padded) of the HMAC of the string to sign.
pub fn v1_signature(method: V1Method, secret_key: &str, string_to_sign: &str) -> String {
    let (key, message) = (secret_key.as_bytes(), string_to_sign.as_bytes());
    let digest = match method {
        V1Method::HmacSha1 => mac::<HmacSha1>(key, message),
        V1Method::HmacSha256 => mac::<HmacSha256>(key, message),
    };
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    //! The published vectors of the reference (section 6.4).

    use super::*;

    const PAYLOAD: &[u8] =
        br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn base<'a>(id: &'a str, key: &'a str, sign_action: bool) -> Request<'a> {
        Request {
            secret_id: id,
            secret_key: key,
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            action: "DescribeInstances",
            content_type: "application/json; charset=utf-8",
            timestamp: 1551113065,
            payload: PAYLOAD,
            sign_action,
        }
    }

    #[test]
    fn payload_hash_and_date() {
        assert_eq!(PAYLOAD.len(), 86);
        assert_eq!(
            sha256_hex(PAYLOAD),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        // 1551113065 is 2019-02-26 in UTC+8, but the date is UTC.
        assert_eq!(utc_date(1551113065), "2019-02-25");
    }

    #[test]
    fn v1_current_official_document() {
        let id = format!("AKID{}", "*".repeat(32));
        let key = "*".repeat(32);
        let r = base(&id, &key, true);
        assert_eq!(
            r.canonical_request(),
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            r.string_to_sign(),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
        );
        assert_eq!(
            hex::encode(hmac(format!("TC3{key}").as_bytes(), b"2019-02-25")),
            "da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0"
        );
        assert_eq!(
            r.signature(),
            "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
        );
        assert_eq!(
            r.authorization(),
            format!("TC3-HMAC-SHA256 Credential={id}/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f")
        );
    }

    #[test]
    fn v2_older_document() {
        let r = base(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            false,
        );
        assert_eq!(
            sha256_hex(r.canonical_request().as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            r.signature(),
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn v3_english_document() {
        let r = base(
            "AKID**********************0123456789EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            false,
        );
        assert_eq!(
            r.signature(),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn v4_describe_images_as_the_sdk_signs() {
        let body = br#"{"Filters":[{"Name":"image-type","Values":["PUBLIC_IMAGE"]}],"Limit":100,"Offset":0}"#;
        let r = Request {
            secret_id: "AKIDEXAMPLE",
            secret_key: "SECRETKEYEXAMPLE",
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            action: "DescribeImages",
            content_type: "application/json",
            timestamp: 1700000000,
            payload: body,
            sign_action: false,
        };
        assert_eq!(
            sha256_hex(body),
            "35ca5585f67b3434b4333699c9ded023195e1fa0b9ebcdc9828ddeb759378ee1"
        );
        assert_eq!(
            sha256_hex(r.canonical_request().as_bytes()),
            "4cde1a3a12634d9bec74c23ad4a5177393abd3583cc31c52fc14249b35298044"
        );
        assert_eq!(
            r.authorization(),
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/cvm/tc3_request, SignedHeaders=content-type;host, Signature=03b22a23ad83d0116af3a51a540c6544fdd3abbdf6ae2ce4d1cf605bfbf7057c"
        );
    }

    #[test]
    fn v5_a_get_as_the_python_sdk_signs_it() {
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "127.0.0.1:8443"),
        ];
        let canonical = Canonical {
            method: "GET",
            path: "/",
            query: "Filters.0.Name=image-type&Limit=10",
            headers: &headers,
            payload_hash: &sha256_hex(b""),
        };
        let key = Tc3Key::new("SECRETKEYEXAMPLE", "cvm", 1700000000);
        assert_eq!(key.credential_scope(), "2023-11-14/cvm/tc3_request");
        assert_eq!(
            key.sign(&canonical.request()),
            "75dfd57f88ad2ad770607f5817d66734a950e66c1639860dd72c857e5a39f030"
        );
        // As the Node.js SDK signs it: the host without its port, the endpoint's first label as
        // the service.
        let headers = [headers[0], ("host", "127.0.0.1")];
        let canonical = Canonical {
            headers: &headers,
            ..canonical
        };
        assert_eq!(
            Tc3Key::new("SECRETKEYEXAMPLE", "127", 1700000000).sign(&canonical.request()),
            "d6dd2283406af32251165bcf7ad2c540193988f6db0e1a698b79457a3256c748"
        );
    }

    #[test]
    fn v1_signatures_of_the_documented_example() {
        // The API's documented v1 example; the signatures are the Python SDK's (Sign.sign).
        let params = [
            ("Version", "2017-03-12"),
            ("Action", "DescribeInstances"),
            ("InstanceIds.0", "ins-09dx96dg"),
            ("Limit", "20"),
            ("Nonce", "11886"),
            ("Offset", "0"),
            ("Region", "ap-guangzhou"),
            ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"),
            ("Timestamp", "1465185768"),
        ];
        let text = v1_string_to_sign("GET", "cvm.tencentcloudapi.com", "/", &params);
        assert_eq!(
            text,
            "GETcvm.tencentcloudapi.com/?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886&Offset=0&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******&Timestamp=1465185768&Version=2017-03-12"
        );
        let key = "Gu5t9xGARNpq86cd98joQYCN3*******";
        assert_eq!(
            v1_signature(V1Method::HmacSha1, key, &text),
            "zmmjn35mikh6pM3V7sUEuX4wyYM="
        );
        assert_eq!(
            v1_signature(V1Method::HmacSha256, key, &text),
            "LzvvZM+0Rl8Q51FXGiFEVp3AeXl2V8Wewa194M4b078="
        );
        // A `_` in a name is signed as `.`.
        assert_eq!(
            v1_string_to_sign("POST", "h", "/", &[("Filters_0_Name", "a b"), ("A", "")]),
            "POSTh/?A=&Filters.0.Name=a b"
        );
        assert_eq!(V1Method::parse("HmacSHA1"), Some(V1Method::HmacSha1));
        assert_eq!(V1Method::parse("hmacsha1"), None);
    }
}
