//! The bare server: hyper + rustls with the webhook's certificate, answering every
//! review with a constant "allowed" (echoing the uid, which any correct server must
//! parse out). What it sustains is the practical limit of the stack on this machine.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Deserialize;
use tokio::net::TcpListener;

#[derive(Deserialize)]
struct Review<'a> {
    #[serde(borrow)]
    request: Option<Uid<'a>>,
}

#[derive(Deserialize)]
struct Uid<'a> {
    uid: &'a str,
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let uid = serde_json::from_slice::<Review>(&body).ok().and_then(|r| r.request).map(|r| r.uid.to_string());
    let out = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid.unwrap_or_default(), "allowed": true},
    });
    let bytes = serde_json::to_vec(&out).unwrap_or_default();
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// Serves until the process ends.
pub async fn serve(addr: SocketAddr, tls: rustls::ServerConfig) -> Result<(), String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(stream) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(answer);
            let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
