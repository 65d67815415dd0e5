//! A plain-HTTP/1 server for small internal endpoints (health, readiness, metrics),
//! shared by the webhook's health port and the reconciler's, so both get the same
//! limits: each connection is its own task, so a slow client does not hold up the
//! others; a header-read timeout, so an idle or trickling client cannot hold a
//! connection forever; a pause after a failed accept, since accept keeps failing at
//! once while the process is out of file descriptors and retrying without one spins
//! a core; and on stop, in-flight requests finish and keep-alive connections close,
//! within a bounded grace.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long open connections may take to finish once stopped.
const GRACE: Duration = Duration::from_secs(5);

/// A response with `body` as text.
pub fn text(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// Answers every request on `listener` with `handler` until `stop` is cancelled, then
/// lets open connections finish (at most a few seconds) and returns.
pub async fn serve<H, F>(listener: TcpListener, handler: H, stop: CancellationToken)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, _) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "plain-HTTP listener: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        let service = service_fn(move |request| {
            let answer = handler(request);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("plain-HTTP connections still open after the grace period; closing");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start() -> (std::net::SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let handler = |r: Request<Incoming>| {
            let path = r.uri().path().to_string();
            async move { text(StatusCode::OK, "text/plain", format!("you asked for {path}")) }
        };
        let task = tokio::spawn(serve(listener, handler, stop.clone()));
        (addr, stop, task)
    }

    #[tokio::test]
    async fn answers_with_the_handler_and_stops_with_a_keep_alive_connection_open() {
        let (addr, stop, task) = start().await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tcp.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("you asked for /healthz"), "{answer}");
        // The connection stays open (keep-alive); stopping closes it rather than waiting.
        stop.cancel();
        tokio::time::timeout(GRACE / 2, task).await.expect("stopped before the grace ran out").unwrap();
        assert_eq!(tcp.read(&mut buf).await.unwrap_or(0), 0, "the idle connection was closed");
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let (addr, stop, _task) = start().await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /heal").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let read = tokio::time::timeout(HEADER_READ_TIMEOUT * 3, tcp.read(&mut buf)).await;
        let n = read.expect("cut off after the header-read timeout").unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
        stop.cancel();
    }
}
