//! The HTTP side of the API server: requests read from tiny_http (behind the front, see
//! [`crate::front`]), answers in the API's envelope with a request ID, and the workers.

use std::io::Read;
use std::sync::Arc;

use serde_json::{json, Value};

use super::{auth, dispatch, ServeSettings};
use crate::error::{Code, Error, Result};
use crate::local::store::Store;

/// Requests served at once. A slow client holds one until it has sent its body.
const SERVE_WORKERS: usize = 16;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// A fresh request ID: a random UUID-shaped string, as the cloud gives.
fn request_id() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into the buffer.
    unsafe {
        libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0);
    }
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `{"Response": {...answer or Error..., "RequestId": ...}}`.
fn envelope(result: Result<Value>) -> Value {
    let mut response = match result {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) => json!({}),
        Err(e) => json!({"Error": {"Code": e.code(), "Message": e.message()}}),
    };
    response["RequestId"] = json!(request_id());
    json!({ "Response": response })
}

/// The method, target and headers of a request, as the `http` crate types them.
fn head_of(request: &tiny_http::Request) -> Result<http::request::Parts> {
    let mut builder = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.url());
    for h in request.headers() {
        builder = builder.header(h.field.as_str().as_str(), h.value.as_str());
    }
    builder.body(()).map(|r| r.into_parts().0).map_err(|e| {
        Error::new(
            Code::InvalidParameter,
            format!("the request cannot be read: {e}"),
        )
    })
}

/// Answers one HTTP request.
fn handle(store: &Arc<Store>, settings: &ServeSettings, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let too_large = request.body_length().is_some_and(|n| n > MAX_BODY);
    let read = request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body);
    let result = if too_large || body.len() > MAX_BODY {
        Err(Error::new(
            Code::InvalidParameter,
            "the request body is larger than 1 MiB",
        ))
    } else if read.is_err() {
        Err(Error::new(
            Code::InvalidParameter,
            "the request body could not be read",
        ))
    } else {
        head_of(&request)
            .and_then(|head| auth::authenticate(store, &head, &body))
            .and_then(|api| {
                let result = dispatch(store, settings, &api);
                match &result {
                    Ok(_) => log::info!("{} {} as {}: ok", api.action, api.region, api.account),
                    Err(e) => log::info!("{} {} as {}: {e}", api.action, api.region, api.account),
                }
                result
            })
    };
    let text = envelope(result).to_string();
    let mut response = tiny_http::Response::from_string(text);
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        response.add_header(h);
    }
    if let Err(e) = request.respond(response) {
        log::debug!("client went away: {e}");
    }
}

/// Serves the API on `listen` until the process ends, over HTTPS when given a TLS
/// configuration. Clients reach the API server (on loopback) through the front (see
/// [`crate::front`]), which bounds how long and how many. `ready` gets the bound address.
pub fn serve(
    store: Arc<Store>,
    listen: &str,
    settings: ServeSettings,
    tls: Option<Arc<rustls::ServerConfig>>,
    ready: impl FnOnce(&str),
) -> Result<()> {
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| Error::internal(format!("cannot listen on loopback: {e}")))?;
    let backend = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .ok_or_else(|| Error::internal("the API server has no IP address"))?;
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| Error::internal(format!("cannot listen on {listen}: {e}")))?;
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| listen.to_string());
    std::thread::Builder::new()
        .name("imagefs-front".into())
        .spawn(move || crate::front::run(listener, tls, backend))
        .map_err(|e| Error::internal(format!("cannot start the front: {e}")))?;
    ready(&address);
    let server = Arc::new(server);
    let settings = Arc::new(settings);
    let workers: Vec<_> = (0..SERVE_WORKERS)
        .map(|_| {
            let server = server.clone();
            let store = store.clone();
            let settings = settings.clone();
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    // A bug in one request must not take a worker down with it.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        handle(&store, &settings, request)
                    }));
                    if outcome.is_err() {
                        log::error!("a request handler panicked; the request got no answer");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_errors_carry_a_request_id() {
        let ok = envelope(Ok(json!({"TotalCount": 0})));
        assert_eq!(ok["Response"]["TotalCount"], 0);
        let id = ok["Response"]["RequestId"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        let refused = envelope(Err(Error::new(Code::InvalidAction, "no such action")));
        assert_eq!(
            refused["Response"]["Error"]["Code"],
            Code::InvalidAction.as_str()
        );
        assert_eq!(refused["Response"]["Error"]["Message"], "no such action");
        assert!(refused["Response"]["RequestId"].is_string());
        assert_ne!(request_id(), request_id());
    }
}
