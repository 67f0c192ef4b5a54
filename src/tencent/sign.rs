//! TC3-HMAC-SHA256, the signature of Tencent Cloud API 3.0.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What a request signs. Its `Debug` never shows the secret key.
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

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYY-MM-DD`, the UTC date of a timestamp.
pub fn utc_date(timestamp: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    dt.format(&fmt).unwrap_or_default()
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
        let mut headers = format!(
            "content-type:{}\nhost:{}\n",
            self.content_type.trim().to_lowercase(),
            self.host.trim().to_lowercase()
        );
        if self.sign_action {
            headers.push_str(&format!("x-tc-action:{}\n", self.action.to_lowercase()));
        }
        format!(
            "POST\n/\n\n{headers}\n{}\n{}",
            self.signed_headers(),
            sha256_hex(self.payload)
        )
    }

    pub fn credential_scope(&self) -> String {
        format!("{}/{}/tc3_request", utc_date(self.timestamp), self.service)
    }

    pub fn string_to_sign(&self) -> String {
        format!(
            "TC3-HMAC-SHA256\n{}\n{}\n{}",
            self.timestamp,
            self.credential_scope(),
            sha256_hex(self.canonical_request().as_bytes())
        )
    }

    pub fn signature(&self) -> String {
        let date = hmac(
            format!("TC3{}", self.secret_key).as_bytes(),
            utc_date(self.timestamp).as_bytes(),
        );
        let service = hmac(&date, self.service.as_bytes());
        let signing = hmac(&service, b"tc3_request");
        hex::encode(hmac(&signing, self.string_to_sign().as_bytes()))
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
}
