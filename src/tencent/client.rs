//! The CVM API over HTTPS: signing, the JSON envelope, timeouts, retries with backoff, and
//! client-side pacing to the documented rate limits.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::sign;
use crate::error::{Code, Error, Result};
use crate::model::api::Action;
pub use crate::model::api::CVM_VERSION;

/// Credentials of a Tencent Cloud account. Never printed: `Debug` shows only the SecretId's
/// first characters.
#[derive(Clone)]
pub struct Credentials {
    pub secret_id: String,
    secret_key: String,
    token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.secret_id.chars().take(6).collect();
        f.debug_struct("Credentials")
            .field("secret_id", &format!("{shown}..."))
            .field("secret_key", &"(hidden)")
            .field("token", &self.token.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

impl Credentials {
    pub fn new(secret_id: String, secret_key: String, token: Option<String>) -> Credentials {
        Credentials {
            secret_id,
            secret_key,
            token,
        }
    }

    /// From `TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY` (and
    /// `TENCENTCLOUD_SESSION_TOKEN`), else the official CLI's `~/.tccli/<profile>.credential`.
    pub fn discover(profile: Option<&str>) -> Result<Credentials> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if profile.is_none() {
            if let (Some(id), Some(key)) = (
                env("TENCENTCLOUD_SECRET_ID"),
                env("TENCENTCLOUD_SECRET_KEY"),
            ) {
                return Ok(Credentials::new(id, key, env("TENCENTCLOUD_SESSION_TOKEN")));
            }
        }
        let profile = profile.unwrap_or("default");
        let home = env("HOME").ok_or_else(|| {
            Error::new(
                Code::AuthFailureSecretIdNotFound,
                "no credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY",
            )
        })?;
        let file = Path::new(&home)
            .join(".tccli")
            .join(format!("{profile}.credential"));
        let text = std::fs::read_to_string(&file).map_err(|_| {
            Error::new(
                Code::AuthFailureSecretIdNotFound,
                format!(
                    "no credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or create {} (tccli configure)",
                    file.display()
                ),
            )
        })?;
        let json: Value = serde_json::from_str(&text).map_err(|_| {
            Error::new(
                Code::AuthFailureSecretIdNotFound,
                format!("{} is not a tccli credential file", file.display()),
            )
        })?;
        let field = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        match (field("secretId"), field("secretKey")) {
            (Some(id), Some(key)) => Ok(Credentials::new(id, key, field("token"))),
            _ => Err(Error::new(
                Code::AuthFailureSecretIdNotFound,
                format!("{} has no secretId and secretKey", file.display()),
            )),
        }
    }
}

/// Requests per second each action may make (the documented defaults; others 10).
fn rate_limit(action: &str) -> u32 {
    match action {
        "DescribeImages" => 40,
        "DescribeImportImageOs" => 288,
        "DescribeRegions" | "DescribeZones" | "DescribeInstances" => 40,
        _ => 10,
    }
}

/// Whether a failed attempt may be made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// The request was not carried out (throttled, or never sent): always safe to repeat.
    Safe,
    /// It may have been carried out: repeat only requests that change nothing.
    IfReadOnly,
    /// A business answer: repeating gives the same answer.
    Never,
}

/// Actions that only read: repeating them after an unclear failure cannot do anything twice.
fn read_only(action: &str) -> bool {
    // GetCallerIdentity, and the tag service's GetResources, GetTags, GetTagKeys.
    action.starts_with("Describe") || action.starts_with("Inquiry") || action.starts_with("Get")
}

/// A CVM API client for one account.
pub struct Client {
    credentials: Credentials,
    /// `https://cvm.<region>.tencentcloudapi.com` unless a fixed endpoint is given.
    endpoint: Option<String>,
    agent: ureq::Agent,
    next_slot: Mutex<HashMap<String, Instant>>,
    attempts: u32,
}

impl Client {
    pub fn new(credentials: Credentials, endpoint: Option<String>) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build();
        Client {
            credentials,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            agent,
            next_slot: Mutex::new(HashMap::new()),
            attempts: 4,
        }
    }

    fn url_and_host(&self, service: &str, region: &str) -> (String, String) {
        match &self.endpoint {
            Some(endpoint) => {
                let host = endpoint
                    .split("://")
                    .nth(1)
                    .unwrap_or(endpoint)
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (format!("{endpoint}/"), host)
            }
            None => {
                let host = if region.is_empty() {
                    format!("{service}.tencentcloudapi.com")
                } else {
                    format!("{service}.{region}.tencentcloudapi.com")
                };
                (format!("https://{host}/"), host)
            }
        }
    }

    /// Waits for this action's next slot under its rate limit. The wait happens before the
    /// request, with no lock held.
    fn pace(&self, action: &str) {
        let interval = Duration::from_secs(1) / rate_limit(action);
        let wait = {
            let mut slots = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = slots.get(action).copied().unwrap_or(now).max(now);
            slots.insert(action.to_string(), slot + interval);
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Calls an action in a region with its request; returns its answer.
    pub fn invoke<A: Action>(&self, region: &str, request: &A) -> Result<A::Response> {
        let params = serde_json::to_value(request)
            .map_err(|e| Error::internal(format!("cannot encode {}: {e}", A::NAME)))?;
        let answer = self.call_service(A::SERVICE, A::VERSION, region, A::NAME, &params)?;
        // An answer that is not an object reads as one without members, as it always has.
        let answer = if answer.is_object() {
            answer
        } else {
            Value::Object(serde_json::Map::new())
        };
        serde_json::from_value(answer).map_err(|e| {
            Error::internal(format!("unexpected {} answer from the API: {e}", A::NAME))
        })
    }

    /// Calls an action of any API 3.0 service.
    pub fn call_service(
        &self,
        service: &str,
        version: &str,
        region: &str,
        action: &str,
        params: &Value,
    ) -> Result<Value> {
        let body = serde_json::to_vec(params)
            .map_err(|e| Error::internal(format!("cannot encode {action}: {e}")))?;
        let mut last = Error::internal(format!("{action}: no attempt made"));
        for attempt in 0..self.attempts {
            if attempt > 0 {
                // Exponential backoff: 0.2 s, 0.4 s, 0.8 s.
                std::thread::sleep(Duration::from_millis(200 << (attempt - 1)));
            }
            self.pace(action);
            match self.send(service, version, region, action, &body) {
                Ok(value) => return Ok(value),
                Err((error, retry)) => {
                    // A write that may have happened (its answer was lost, or the server
                    // failed mid-way) is never sent twice: it could launch or copy twice.
                    let again = match retry {
                        Retry::Safe => true,
                        Retry::IfReadOnly => read_only(action),
                        Retry::Never => false,
                    };
                    log::info!(
                        "{action} in {region}: {error}{}",
                        if again { " (retrying)" } else { "" }
                    );
                    if !again {
                        return Err(error);
                    }
                    last = error;
                }
            }
        }
        Err(last)
    }

    /// One attempt; the error says whether another attempt may help.
    fn send(
        &self,
        service: &str,
        version: &str,
        region: &str,
        action: &str,
        body: &[u8],
    ) -> std::result::Result<Value, (Error, Retry)> {
        let (url, host) = self.url_and_host(service, region);
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let content_type = "application/json";
        let signed = sign::Request {
            secret_id: &self.credentials.secret_id,
            secret_key: &self.credentials.secret_key,
            service,
            host: &host,
            action,
            content_type,
            timestamp,
            payload: body,
            sign_action: false,
        };
        let mut request = self
            .agent
            .post(&url)
            .set("Content-Type", content_type)
            .set("Host", &host)
            .set("X-TC-Action", action)
            .set("X-TC-Version", version)
            .set("X-TC-Timestamp", &timestamp.to_string())
            .set(
                "X-TC-RequestClient",
                concat!("imagefs/", env!("CARGO_PKG_VERSION")),
            )
            .set("Authorization", &signed.authorization());
        if !region.is_empty() {
            request = request.set("X-TC-Region", region);
        }
        if let Some(token) = &self.credentials.token {
            request = request.set("X-TC-Token", token);
        }
        let response = match request.send_bytes(body) {
            Ok(response) => response,
            Err(ureq::Error::Status(status, _)) => {
                let retry = if status >= 500 {
                    Retry::IfReadOnly
                } else {
                    Retry::Never
                };
                return Err((
                    Error::internal(format!("{action}: the API answered HTTP {status}")),
                    retry,
                ));
            }
            Err(ureq::Error::Transport(t)) => {
                // Failing to connect means nothing was sent; anything later might have been.
                let retry = match t.kind() {
                    ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed => Retry::Safe,
                    _ => Retry::IfReadOnly,
                };
                // The transport error names the URL and cause, never headers or keys.
                return Err((
                    Error::internal(format!("{action}: cannot reach {host}: {}", t.kind())),
                    retry,
                ));
            }
        };
        let value: Value = response.into_json().map_err(|e| {
            (
                Error::internal(format!("{action}: unreadable answer: {e}")),
                Retry::IfReadOnly,
            )
        })?;
        answer(action, value)
    }
}

/// The `Response` object of an answer's envelope, or the error it carries (whether repeating
/// the request may help follows from its code).
fn answer(action: &str, envelope: Value) -> std::result::Result<Value, (Error, Retry)> {
    let inner = envelope.get("Response").cloned().ok_or_else(|| {
        (
            Error::internal(format!("{action}: answer without Response")),
            Retry::Never,
        )
    })?;
    if let Some(error) = inner.get("Error") {
        let code = error
            .get("Code")
            .and_then(Value::as_str)
            .unwrap_or(Code::InternalError.as_str())
            .to_string();
        let message = error
            .get("Message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let retry = if code.starts_with(Code::RequestLimitExceeded.as_str()) {
            Retry::Safe
        } else if code == Code::InternalError {
            Retry::IfReadOnly
        } else {
            Retry::Never
        };
        return Err((Error::from_cloud(code, message), retry));
    }
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_their_secrets() {
        let c = Credentials::new(
            "AKIDabcdefghij".into(),
            "very-secret-key".into(),
            Some("tok-secret".into()),
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret-key"), "{shown}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(!shown.contains("AKIDabcdefghij"), "{shown}");
    }

    #[test]
    fn endpoints_follow_the_region() {
        let c = Client::new(Credentials::new("a".into(), "b".into(), None), None);
        assert_eq!(
            c.url_and_host("cvm", "ap-guangzhou"),
            (
                "https://cvm.ap-guangzhou.tencentcloudapi.com/".into(),
                "cvm.ap-guangzhou.tencentcloudapi.com".into()
            )
        );
        let c = Client::new(
            Credentials::new("a".into(), "b".into(), None),
            Some("http://127.0.0.1:9000/".into()),
        );
        assert_eq!(
            c.url_and_host("cvm", "ap-guangzhou"),
            ("http://127.0.0.1:9000/".into(), "127.0.0.1:9000".into())
        );
    }

    #[test]
    fn envelopes_give_their_response_or_error() {
        let ok = answer(
            "A",
            serde_json::json!({"Response": {"X": 1, "RequestId": "r"}}),
        )
        .unwrap();
        assert_eq!(ok["X"], 1);
        let (e, retry) = answer(
            "A",
            serde_json::json!({"Response": {"Error": {"Code": Code::RequestLimitExceeded, "Message": "slow"}}}),
        )
        .unwrap_err();
        assert_eq!(
            (e.code(), e.message(), retry),
            (Code::RequestLimitExceeded.as_str(), "slow", Retry::Safe)
        );
        let (e, retry) = answer("A", serde_json::json!({"Response": {"Error": {}}})).unwrap_err();
        assert_eq!(
            (e.code(), retry),
            (Code::InternalError.as_str(), Retry::IfReadOnly)
        );
        let (e, retry) = answer("A", serde_json::json!({"Other": 1})).unwrap_err();
        assert_eq!(
            (e.message(), retry),
            ("A: answer without Response", Retry::Never)
        );
    }

    #[test]
    fn only_reads_are_repeated_after_an_unclear_failure() {
        assert!(read_only("DescribeImages"));
        assert!(read_only("GetCallerIdentity"));
        assert!(!read_only("RunInstances"));
        assert!(!read_only("SyncImages"));
    }

    #[test]
    fn pacing_spaces_requests_to_the_rate_limit() {
        let c = Client::new(Credentials::new("a".into(), "b".into(), None), None);
        let started = Instant::now();
        for _ in 0..6 {
            c.pace("ModifyImageSharePermission");
        }
        // 10 per second: the sixth waits about half a second.
        assert!(
            started.elapsed() >= Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );
    }
}
