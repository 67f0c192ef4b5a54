//! A request's signature checked against what its client may have signed, TC3 or v1.
//!
//! Clients differ in the host they sign. The Python SDK and tccli sign the endpoint as
//! configured, which is also the `Host` header they send (`127.0.0.1:8443`; tccli over HTTP
//! even `http://127.0.0.1:8443`). The Node.js SDK sends `Host: 127.0.0.1:8443` but signs
//! `127.0.0.1`, the URL's hostname (lowercased). So a signature is accepted if it matches with
//! the `Host` as sent or without its port; for TC3, each with the signed header values as sent
//! or lowercased (the API's documentation lowercases them, the SDKs sign them as sent).

use http::request::Parts;

use crate::tencent::sign::{self, Canonical, Tc3Key, V1Method};

/// What a TC3 `Authorization` header says of the signature.
pub(super) struct Tc3Signature<'a> {
    /// The credential scope's service: any label the client chose (the Node.js SDK names the
    /// endpoint's first label, `127` for `127.0.0.1:8443`). It is signed all the same.
    pub service: &'a str,
    /// `SignedHeaders`: lowercase header names.
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
    pub timestamp: i64,
}

/// A request header's value (names are matched in any case); `None` when it is absent or
/// not visible ASCII.
pub(super) fn header<'a>(head: &'a Parts, name: &str) -> Option<&'a str> {
    head.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The hosts a client may have signed: the `Host` header as sent, then without its port.
fn signed_hosts(head: &Parts) -> Vec<String> {
    let sent = header(head, "Host")
        .map(str::to_string)
        .or_else(|| head.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let mut hosts = vec![sent.clone()];
    if let Some((name, port)) = sent.rsplit_once(':') {
        // `[::1]:8443` loses its port; `::1`, an address without brackets, has none.
        let has_port = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        if has_port && (name.ends_with(']') || !name.contains(':')) {
            hosts.push(name.to_string());
        }
    }
    hosts
}

/// Whether a TC3 signature matches the request signed with `secret_key`.
pub(super) fn tc3_matches(
    head: &Parts,
    body: &[u8],
    secret_key: &str,
    claimed: &Tc3Signature<'_>,
) -> bool {
    let payload_hash = match header(head, "X-TC-Content-SHA256") {
        Some(unsigned @ "UNSIGNED-PAYLOAD") => unsigned.to_string(),
        _ => sign::sha256_hex(body),
    };
    let key = Tc3Key::new(secret_key, claimed.service, claimed.timestamp);
    let mut tried: Vec<String> = Vec::new();
    for host in signed_hosts(head) {
        for lowercase in [false, true] {
            let mut values = Vec::with_capacity(claimed.signed_headers.len());
            for name in &claimed.signed_headers {
                let value = if *name == "host" {
                    host.as_str()
                } else {
                    match header(head, name) {
                        Some(value) => value.trim(),
                        // A signed header the request lacks: no signature can match.
                        None => return false,
                    }
                };
                values.push(if lowercase {
                    value.to_lowercase()
                } else {
                    value.to_string()
                });
            }
            let headers: Vec<(&str, &str)> = claimed
                .signed_headers
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            let canonical = Canonical {
                method: head.method.as_str(),
                path: head.uri.path(),
                query: head.uri.query().unwrap_or(""),
                headers: &headers,
                payload_hash: &payload_hash,
            }
            .request();
            if tried.contains(&canonical) {
                continue;
            }
            if constant_time_eq(
                key.sign(&canonical).as_bytes(),
                claimed.signature.as_bytes(),
            ) {
                return true;
            }
            tried.push(canonical);
        }
    }
    false
}

/// Whether a v1 signature matches the request's form parameters (`pairs`, decoded, with the
/// `Signature` itself) signed with `secret_key`.
pub(super) fn v1_matches(
    head: &Parts,
    pairs: &[(String, String)],
    method: V1Method,
    secret_key: &str,
    signature: &str,
) -> bool {
    let signed: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(name, _)| name != "Signature")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    signed_hosts(head).iter().any(|host| {
        let text = sign::v1_string_to_sign(head.method.as_str(), host, head.uri.path(), &signed);
        let expected = sign::v1_signature(method, secret_key, &text);
        constant_time_eq(expected.as_bytes(), signature.as_bytes())
    })
}

/// Compares two secrets in time that does not depend on where they differ.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, target: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn hosts_are_tried_as_sent_and_without_their_port() {
        let hosts = |host: &str| signed_hosts(&head("GET", "/", &[("Host", host)]));
        assert_eq!(hosts("127.0.0.1:8443"), ["127.0.0.1:8443", "127.0.0.1"]);
        assert_eq!(hosts("[::1]:8443"), ["[::1]:8443", "[::1]"]);
        assert_eq!(hosts("::1"), ["::1"]);
        assert_eq!(
            hosts("cvm.tencentcloudapi.com"),
            ["cvm.tencentcloudapi.com"]
        );
        assert_eq!(hosts("http://127.0.0.1:8443"), ["http://127.0.0.1:8443"]);
        assert_eq!(hosts("localhost:"), ["localhost:"]);
    }

    /// The vectors of `tencent::sign`'s tests, as a server receives them.
    #[test]
    fn a_get_signed_by_either_sdk_matches() {
        let get = head(
            "GET",
            "/?Filters.0.Name=image-type&Limit=10",
            &[
                ("Host", "127.0.0.1:8443"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        );
        let python = Tc3Signature {
            service: "cvm",
            signed_headers: vec!["content-type", "host"],
            signature: "75dfd57f88ad2ad770607f5817d66734a950e66c1639860dd72c857e5a39f030",
            timestamp: 1700000000,
        };
        assert!(tc3_matches(&get, b"", "SECRETKEYEXAMPLE", &python));
        assert!(!tc3_matches(&get, b"", "another key", &python));
        let node = Tc3Signature {
            service: "127",
            signature: "d6dd2283406af32251165bcf7ad2c540193988f6db0e1a698b79457a3256c748",
            ..python
        };
        assert!(tc3_matches(&get, b"", "SECRETKEYEXAMPLE", &node));
        let other_query = head(
            "GET",
            "/?Filters.0.Name=image-type&Limit=11",
            &[
                ("Host", "127.0.0.1:8443"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        );
        assert!(!tc3_matches(&other_query, b"", "SECRETKEYEXAMPLE", &node));
        let lacking = Tc3Signature {
            signed_headers: vec!["content-type", "host", "x-tc-action"],
            ..node
        };
        assert!(!tc3_matches(&get, b"", "SECRETKEYEXAMPLE", &lacking));
    }

    #[test]
    fn a_v1_form_matches_with_the_host_as_sent() {
        let pairs: Vec<(String, String)> = [
            ("Action", "DescribeInstances"),
            ("InstanceIds.0", "ins-09dx96dg"),
            ("Limit", "20"),
            ("Nonce", "11886"),
            ("Offset", "0"),
            ("Region", "ap-guangzhou"),
            ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"),
            ("Timestamp", "1465185768"),
            ("Version", "2017-03-12"),
            ("Signature", "zmmjn35mikh6pM3V7sUEuX4wyYM="),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let key = "Gu5t9xGARNpq86cd98joQYCN3*******";
        let get = head("GET", "/?ignored", &[("Host", "cvm.tencentcloudapi.com")]);
        let signature = "zmmjn35mikh6pM3V7sUEuX4wyYM=";
        assert!(v1_matches(&get, &pairs, V1Method::HmacSha1, key, signature));
        assert!(!v1_matches(
            &get,
            &pairs,
            V1Method::HmacSha256,
            key,
            signature
        ));
        let post = head("POST", "/", &[("Host", "cvm.tencentcloudapi.com")]);
        assert!(!v1_matches(
            &post,
            &pairs,
            V1Method::HmacSha1,
            key,
            signature
        ));
    }
}
