//! The front of `imagefs serve`: what clients connect to, over plain HTTP or HTTPS (tccli
//! speaks nothing else). Each connection carries one request: the front reads it whole
//! (framed by its `Content-Length`) within a deadline, hands it to the API server on loopback
//! with `Connection: close`, and relays the answer, which tells the client to close. So a
//! slow or silent client holds one of a bounded number of connections for a bounded time,
//! never one of the server's workers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The longest request head (request line and headers) the front reads.
const MAX_HEAD: usize = 16 * 1024;

/// The largest body the front forwards; the server refuses bodies past its own, smaller limit.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// How long a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 256;

/// A TLS configuration from a PEM certificate chain and a PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::internal(format!(
                "cannot read certificates from {}: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::internal(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        Error::internal(format!(
            "cannot read a private key from {}: {e}",
            key.display()
        ))
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::internal(format!("TLS: {e}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| Error::internal(format!("TLS certificate and key: {e}")))?;
    Ok(Arc::new(config))
}

/// Accepts connections on `listener` (TLS ones when given a configuration) and serves each
/// on a thread of its own, relaying its request to the API server at `backend`. Returns when
/// the listener fails.
pub fn run(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, backend: String) {
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                log::warn!("front: accept: {e}");
                continue;
            }
        };
        if open.fetch_add(1, std::sync::atomic::Ordering::AcqRel) >= MAX_CONNECTIONS {
            open.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            log::warn!("front: {MAX_CONNECTIONS} connections open; closing a new one");
            continue;
        }
        let tls = tls.clone();
        let backend = backend.clone();
        let done = open.clone();
        let spawned = std::thread::Builder::new()
            .name("imagefs-front".into())
            .spawn(move || {
                if let Err(e) = serve_connection(stream, tls, &backend) {
                    log::debug!("front: {e}");
                }
                done.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            });
        if let Err(e) = spawned {
            open.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            log::warn!("front: no thread for a connection: {e}");
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    backend: &str,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    match tls {
        Some(config) => {
            let connection =
                rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
            let mut tls = rustls::StreamOwned::new(connection, stream);
            relay(&mut tls, backend)?;
            tls.conn.send_close_notify();
            tls.flush()
        }
        None => {
            let mut plain = stream;
            relay(&mut plain, backend)?;
            plain.flush()
        }
    }
}

/// One request from `client` to the API server and its answer back.
fn relay(client: &mut (impl Read + Write), backend: &str) -> std::io::Result<()> {
    let request = match read_request(client)? {
        Some(r) => r,
        None => return Ok(()),
    };
    let mut server = TcpStream::connect(backend)?;
    server.write_all(&request)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    client.write_all(&closing(answer))
}

/// The server's answer, saying `Connection: close`: the front serves one request per
/// connection, and a client that kept it for the next would find it closed.
fn closing(mut answer: Vec<u8>) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    if !head.contains("\r\nconnection:") {
        answer.splice(end + 2..end + 2, b"Connection: close\r\n".iter().copied());
    }
    answer
}

/// Reads one request from the client and returns it with `Connection: close`; `None` if the
/// client closed without sending one.
fn read_request(client: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_len, method, path, headers) = loop {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(invalid("the client closed in the middle of a request"))
            };
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut slots);
        match request.parse(&buffer) {
            Ok(httparse::Status::Complete(len)) => {
                let headers: Vec<(String, Vec<u8>)> = request
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect();
                break (
                    len,
                    request.method.unwrap_or("GET").to_string(),
                    request.path.unwrap_or("/").to_string(),
                    headers,
                );
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => return Err(invalid("request head too long")),
            Err(e) => return Err(invalid(&format!("malformed request: {e}"))),
        }
    };
    let length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| invalid("bad Content-Length"))
        })
        .transpose()?
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(invalid("request body too large"));
    }
    let mut body = buffer.split_off(head_len);
    while body.len() < length {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Err(invalid("the client closed in the middle of a body"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&body);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_framed_by_its_length_and_closes() {
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello-and-more";
        let out = read_request(&mut &raw[..])
            .expect("read")
            .expect("a request");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with("POST / HTTP/1.1\r\nHost: x\r\n"), "{text}");
        assert!(!text.contains("keep-alive"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\nhello"), "{text}");
    }

    #[test]
    fn answers_tell_the_client_to_close() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec();
        assert_eq!(
            closing(answer),
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
        let already = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        assert_eq!(closing(already.clone()), already);
    }

    #[test]
    fn nothing_sent_is_no_request_and_half_a_request_is_an_error() {
        assert!(read_request(&mut &b""[..]).expect("read").is_none());
        let cut = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert!(read_request(&mut &cut[..]).is_err());
        assert!(read_request(&mut &b"NOT HTTP\r\n\r\n"[..]).is_err());
        let huge = b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n";
        assert!(read_request(&mut &huge[..]).is_err());
    }
}
