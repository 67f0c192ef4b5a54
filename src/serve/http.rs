//! The HTTP side of `imagefs serve`: hyper's HTTP/1.1 server on tokio, over TCP or TLS
//! (tokio-rustls), on the one address it is given. hyper frames the requests (keep-alive,
//! chunked bodies) and refuses the malformed and oversized heads; this file bounds how long and
//! how many, reads each body whole, and hands head and body to authentication and the action on
//! tokio's blocking pool (the emulator's calls are synchronous: SQLite). Answers are the API's
//! envelope with a request ID, HTTP 200 for API errors too, as the cloud does: the SDKs read an
//! error only from a 200 with `Content-Type: application/json`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep, timeout, Sleep};

use super::{auth, dispatch, ServeSettings};
use crate::error::{Code, Error, Result};
use crate::local::store::Store;

/// Largest request body accepted; larger ones get `413`.
const MAX_BODY: usize = 1 << 20;

/// Largest request head (request line and headers) read; larger ones get `431` from hyper.
const MAX_HEAD: usize = 64 * 1024;

/// How long a client may take to send a whole request head, from the moment its connection
/// is accepted (or the TLS handshake done) or its previous answer was sent. So it is also how
/// long an idle keep-alive connection stays open. A client trickling header lines holds its
/// connection no longer than this.
const HEAD_DEADLINE: Duration = Duration::from_secs(2);

/// How long a client may take over the TLS handshake.
const TLS_HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);

/// How long a client may take to send a request body once its head has arrived; past it the
/// request gets `408`.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// How long an answer may wait for a client that reads nothing before its connection is closed.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(10);

/// Connections served at once (fewer if the open-file limit is lower). Past it the server
/// stops accepting, and new clients wait in the listen backlog until one closes.
const MAX_CONNECTIONS: usize = 4096;

/// Open files kept for other uses than connections: the store's SQLite files, the log.
const RESERVED_FILES: u64 = 128;

/// Connections the kernel queues, completed, until the server accepts them (the kernel caps
/// it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// Threads that run API calls at once (tokio's blocking pool); more calls wait for one.
const API_THREADS: usize = 16;

/// How long requests in flight may take to finish after SIGTERM or SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long to wait before accepting again after `accept` failed (out of files, mostly).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What every connection needs: the store, the settings, the HTTP and TLS configurations.
struct Server {
    store: Arc<Store>,
    settings: ServeSettings,
    http: http1::Builder,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Serves the API on `listen` until SIGTERM or SIGINT, over HTTPS when given a TLS
/// configuration. `ready` gets the bound address once connections are accepted. On a signal,
/// the server stops accepting, lets the requests in flight finish (for up to
/// [`SHUTDOWN_GRACE`]) and returns.
pub fn serve(
    store: Arc<Store>,
    listen: &str,
    settings: ServeSettings,
    tls: Option<Arc<rustls::ServerConfig>>,
    ready: impl FnOnce(&str),
) -> Result<()> {
    let address = socket_address(listen)?;
    let connections = connection_cap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(API_THREADS)
        .thread_name("imagefs-serve")
        .build()
        .map_err(|e| Error::internal(format!("cannot start the server's runtime: {e}")))?;
    let server = Arc::new(Server {
        store,
        settings,
        http: http1_builder(),
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
    });
    let result = runtime.block_on(async {
        // Handled before anyone is told where to connect, so that no signal finds the
        // default action (ending the process at once) in place.
        let stop = StopSignals::new()?;
        let listener = bind(address)?;
        let bound = listener.local_addr().unwrap_or(address);
        ready(&bound.to_string());
        accept_until_signalled(listener, server, connections, stop).await;
        Ok(())
    });
    // Only an API call still running past the grace period is left; it is not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The first address `listen` names (`127.0.0.1:9000`, `[::1]:0`, `localhost:9000`).
fn socket_address(listen: &str) -> Result<SocketAddr> {
    let refuse = |why: String| {
        Error::new(
            Code::InvalidParameterValue,
            format!("cannot listen on {listen}: {why}; --listen takes ADDR:PORT (127.0.0.1:9000, [::1]:9000, localhost:9000)"),
        )
    };
    listen
        .to_socket_addrs()
        .map_err(|e| refuse(e.to_string()))?
        .next()
        .ok_or_else(|| refuse("no address".into()))
}

/// A listener on `address` with a backlog deep enough for bursts of clients.
fn bind(address: SocketAddr) -> Result<TcpListener> {
    // Mostly the user's to fix (a port in use or privileged): say how.
    let cannot = |e: io::Error| {
        Error::new(
            Code::InvalidParameterValue,
            format!("cannot listen on {address}: {e}; choose another address or port with --listen ADDR:PORT"),
        )
    };
    let socket = if address.is_ipv6() {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .map_err(cannot)?;
    // As std's listeners do: a restarted server can take its port back at once.
    socket.set_reuseaddr(true).map_err(cannot)?;
    socket.bind(address).map_err(cannot)?;
    socket.listen(LISTEN_BACKLOG).map_err(cannot)
}

/// Raises the soft limit on open files to the hard one (each connection takes one) and gives
/// how many connections to serve at once within it.
fn connection_cap() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return MAX_CONNECTIONS;
        }
        if limit.rlim_cur < limit.rlim_max {
            // An unlimited hard limit still stops at the kernel's nr_open, 1,048,576 by default.
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max.min(1 << 20),
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                limit = wanted;
            }
        }
    }
    let files = limit.rlim_cur.saturating_sub(RESERVED_FILES);
    let cap = usize::try_from(files)
        .unwrap_or(MAX_CONNECTIONS)
        .clamp(1, MAX_CONNECTIONS);
    if cap < 1024 {
        log::warn!(
            "the open-file limit ({}) leaves room for {cap} connections at once; more wait",
            limit.rlim_cur
        );
    }
    cap
}

/// hyper's HTTP/1.1 server: keep-alive, a deadline for each request head and a size limit.
fn http1_builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        // Without a timer hyper's header timeout is silently off.
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_DEADLINE)
        .max_header_size(MAX_HEAD);
    builder
}

/// Accepts connections, at most `connections` open at once, until `stop` (SIGTERM or
/// SIGINT); then stops accepting and waits for the connections to finish their requests.
async fn accept_until_signalled(
    listener: TcpListener,
    server: Arc<Server>,
    connections: usize,
    mut stop: StopSignals,
) {
    let slots = Arc::new(Semaphore::new(connections));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stop.next() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    log::warn!("accept: {e}");
                    sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = stop.next() => break,
        };
        tokio::spawn(serve_connection(
            stream,
            server.clone(),
            graceful.watcher(),
            slot,
        ));
    }
    drop(listener);
    log::info!("stopping: {} connections to finish", graceful.count());
    tokio::select! {
        () = graceful.shutdown() => log::info!("stopped"),
        () = sleep(SHUTDOWN_GRACE) => {
            log::warn!("stopped with requests still running after {SHUTDOWN_GRACE:?}");
        }
        () = stop.next() => log::warn!("stopped at a second signal, with requests still running"),
    }
}

/// SIGTERM and SIGINT, which stop the server.
struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl StopSignals {
    fn new() -> Result<StopSignals> {
        let handle = |kind, name| {
            signal(kind).map_err(|e| Error::internal(format!("cannot handle {name}: {e}")))
        };
        Ok(StopSignals {
            terminate: handle(SignalKind::terminate(), "SIGTERM")?,
            interrupt: handle(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// Resolves at the next of either signal.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => log::info!("SIGTERM"),
            _ = self.interrupt.recv() => log::info!("SIGINT"),
        }
    }
}

/// Serves one connection (after its TLS handshake, for HTTPS) until it closes; `_slot` is its
/// place among the connections open at once, given back when it ends.
async fn serve_connection(
    stream: TcpStream,
    server: Arc<Server>,
    watcher: Watcher,
    _slot: OwnedSemaphorePermit,
) {
    // Answers are written whole at once; Nagle's delay would only hold the last packet back.
    let _ = stream.set_nodelay(true);
    let stream = StallLimit::new(stream);
    let Some(acceptor) = server.tls.clone() else {
        return serve_http(stream, server, watcher).await;
    };
    match timeout(TLS_HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => serve_http(tls, server, watcher).await,
        Ok(Err(e)) => log::debug!("TLS handshake: {e}"),
        Err(_) => log::debug!("TLS handshake not done within {TLS_HANDSHAKE_DEADLINE:?}"),
    }
}

/// Serves HTTP/1.1 requests on `io`; on shutdown the connection ends after the request it is
/// serving, if any.
async fn serve_http<I>(io: I, server: Arc<Server>, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = server.clone();
    let service = service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(respond(app, request).await) }
    });
    let connection = server.http.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection).await {
        log::debug!("connection: {e}");
    }
}

/// The answer to one request: its body read, then authentication and the action run on the
/// blocking pool.
async fn respond(server: Arc<Server>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (head, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(refusal) => return refusal.response(),
    };
    let joined = tokio::task::spawn_blocking(move || api_call(&server, &head, &body)).await;
    json_response(StatusCode::OK, &envelope(outcome(joined)))
}

/// The result of an API call run on the blocking pool. A call that panicked is an internal
/// error for its client, and the server goes on.
fn outcome(joined: std::result::Result<Result<Value>, tokio::task::JoinError>) -> Result<Value> {
    joined.unwrap_or_else(|e| {
        log::error!("an API call failed without an answer: {e}");
        Err(Error::internal("the request failed inside the server"))
    })
}

/// Authenticates a request and runs its action, as the request's account.
fn api_call(server: &Server, head: &http::request::Parts, body: &[u8]) -> Result<Value> {
    let api = auth::authenticate(&server.store, head, body)?;
    let result = dispatch(&server.store, &server.settings, &api);
    match &result {
        Ok(_) => log::info!("{} {} as {}: ok", api.action, api.region, api.account),
        Err(e) => log::info!("{} {} as {}: {e}", api.action, api.region, api.account),
    }
    result
}

/// Why a request's body was not read: answered with an HTTP status, not the API's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyRefusal {
    TooLarge,
    TooSlow,
    Unreadable,
}

impl BodyRefusal {
    /// The status, with an error envelope saying why (the Python SDK shows a non-200 body as
    /// the message of its `ServerNetworkError`). The connection closes after it: the rest of
    /// the body is not read.
    fn response(self) -> Response<Full<Bytes>> {
        let (status, message) = match self {
            BodyRefusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than 1 MiB".to_string(),
            ),
            BodyRefusal::TooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {BODY_DEADLINE:?}"),
            ),
            BodyRefusal::Unreadable => (
                StatusCode::BAD_REQUEST,
                "the request body could not be read".to_string(),
            ),
        };
        let refused = envelope(Err(Error::new(Code::InvalidParameter, message)));
        let mut response = json_response(status, &refused);
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// Reads a request body whole, within [`MAX_BODY`] and [`BODY_DEADLINE`]. A declared length
/// past the limit is refused before any of the body is read.
async fn read_body(body: Incoming) -> std::result::Result<Bytes, BodyRefusal> {
    // hyper's size hint is exact when the request has a Content-Length.
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(BodyRefusal::TooLarge);
    }
    match timeout(BODY_DEADLINE, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => Err(BodyRefusal::TooSlow),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(BodyRefusal::TooLarge),
        Ok(Err(e)) => {
            log::debug!("request body: {e}");
            Err(BodyRefusal::Unreadable)
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// An answer with a JSON body, typed exactly `application/json` (the Python SDK reads an
/// error envelope only under that type).
fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    // A Value always serializes; to_vec writes it without Display's formatter.
    let text = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

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

/// A TLS configuration from a PEM certificate chain and a PEM private key, offering HTTP/1.1.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::new(
                Code::InvalidParameterValue,
                format!(
                    "cannot read certificates from {}: {e}; --tls-cert takes a PEM file of the certificate chain",
                    cert.display()
                ),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::new(
            Code::InvalidParameterValue,
            format!(
                "{} holds no certificate; --tls-cert takes a PEM file of the certificate chain",
                cert.display()
            ),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        Error::new(
            Code::InvalidParameterValue,
            format!(
                "cannot read a private key from {}: {e}; --tls-key takes a PEM file of the private key",
                key.display()
            ),
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::internal(format!("TLS: {e}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        Error::new(
            Code::InvalidParameterValue,
            format!("TLS certificate and key: {e}; give the key that goes with the certificate"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A stream whose writes fail once the peer has read nothing for [`WRITE_STALL_LIMIT`]: hyper
/// has no write deadline, and a client that never reads its answers would otherwise hold its
/// connection for good.
struct StallLimit<S> {
    inner: S,
    /// Started when a write could not go on; dropped when one does.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> StallLimit<S> {
    fn new(inner: S) -> Self {
        StallLimit {
            inner,
            stalled: None,
        }
    }

    /// `polled`, or a timeout once writes have been stuck for too long.
    fn limit<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(sleep(WRITE_STALL_LIMIT)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of its answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallLimit<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallLimit<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.limit(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.limit(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.limit(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.limit(cx, polled)
    }
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

    #[test]
    fn answers_are_typed_exactly_application_json() {
        let response = json_response(StatusCode::OK, &json!({}));
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let refused = BodyRefusal::TooLarge.response();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(refused.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(refused.headers()[CONNECTION], "close");
    }

    #[test]
    fn a_call_that_panics_is_an_internal_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let joined = runtime.block_on(async {
            tokio::task::spawn_blocking(|| -> Result<Value> { panic!("a bug in an action") }).await
        });
        let refused = outcome(joined).expect_err("no answer");
        assert_eq!(refused.code(), Code::InternalError.as_str());
    }
}
