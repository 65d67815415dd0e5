//! A closed- or open-loop HTTPS load generator: many keep-alive HTTP/1.1
//! connections (the apiserver opens one per concurrent webhook call), each posting
//! the same AdmissionReview and timing the answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

/// What to load.
#[derive(Clone, Debug)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    /// Name to verify the certificate against.
    pub server_name: String,
    /// Request path, e.g. `/validate`.
    pub path: String,
    /// Request body.
    pub body: Bytes,
    /// The server's process, when its CPU time should be reported.
    pub server_pid: Option<u32>,
}

/// How hard to load it.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Concurrent connections.
    pub connections: usize,
    /// Measured time (after warm-up).
    pub duration: Duration,
    /// Total requests per second, spread over the connections; `None` = as fast as
    /// answers come back (closed loop).
    pub rate: Option<u64>,
}

/// What one run measured.
#[derive(Debug)]
pub struct Report {
    /// Answers with status 200 and a uid.
    pub ok: u64,
    /// Failed requests (connection errors, other statuses, answers without a uid).
    pub errors: u64,
    /// Requests per second (successful answers).
    pub rps: f64,
    /// Latency in microseconds: p50, p99, p99.9, max.
    pub p50_us: u64,
    /// p99.
    pub p99_us: u64,
    /// p99.9.
    pub p999_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// CPU microseconds per answered request of the server (when its pid was given)
    /// and of this process, the load generator, during the measured time.
    pub server_cpu_us: Option<f64>,
    /// The load generator's.
    pub client_cpu_us: Option<f64>,
}

struct Conn {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
}

async fn connect(
    target: &Target,
    tls: &tokio_rustls::TlsConnector,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let tcp = tokio::net::TcpStream::connect(target.addr).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(target.server_name.clone()).map_err(|e| e.to_string())?;
    let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn one_connection(
    target: Arc<Target>,
    tls: tokio_rustls::TlsConnector,
    shape: Shape,
    start: Instant,
    offset: Duration,
) -> Conn {
    let mut c = Conn { hist: histogram(), ok: 0, errors: 0 };
    let interval = shape.rate.map(|r| Duration::from_secs_f64(shape.connections as f64 / r.max(1) as f64));
    let mut sender = None;
    let end = start + shape.duration;
    let mut next = start + offset;
    while Instant::now() < end {
        // Open loop: latency counts from when the request was due, so a stall shows
        // up in the percentiles instead of silently lowering the rate.
        let due = match interval {
            Some(i) => {
                tokio::time::sleep_until(next.into()).await;
                let due = next;
                next += i;
                due
            }
            None => Instant::now(),
        };
        if sender.is_none() {
            match connect(&target, &tls).await {
                Ok(s) => sender = Some(s),
                Err(_) => {
                    c.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let req = hyper::Request::post(target.path.as_str())
            .header("host", target.server_name.as_str())
            .header("content-type", "application/json")
            .body(Full::new(target.body.clone()));
        let Ok(req) = req else {
            c.errors += 1;
            continue;
        };
        let answer = async {
            let resp = s.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((status, body))
        }
        .await;
        let elapsed = due.elapsed().as_micros() as u64;
        match answer {
            Ok((status, body)) if status == 200 && body.windows(6).any(|w| w == b"\"uid\":") => {
                c.ok += 1;
                let _ = c.hist.record(elapsed.max(1));
            }
            Ok(_) => c.errors += 1,
            Err(_) => {
                c.errors += 1;
                sender = None;
            }
        }
    }
    c
}

/// Microseconds from 1 µs to one minute, three significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds are valid")
}

/// Runs the load and reports it. A one-second warm-up precedes the measurement.
pub async fn run(target: Target, tls: rustls::ClientConfig, shape: Shape) -> Report {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let target = Arc::new(target);
    let warm = Shape { duration: Duration::from_secs(1), ..shape };
    let _ = spawn_all(&target, &connector, warm).await;
    let server = target.server_pid.map(|p| p.to_string());
    let cpu = || (server.as_deref().and_then(super::cpu::seconds), super::cpu::seconds("self"));
    let cpu_before = cpu();
    let started = Instant::now();
    let conns = spawn_all(&target, &connector, shape).await;
    let elapsed = started.elapsed().as_secs_f64().max(shape.duration.as_secs_f64());
    let cpu_after = cpu();
    let mut hist = histogram();
    let (mut ok, mut errors) = (0, 0);
    for c in conns {
        let _ = hist.add(&c.hist);
        ok += c.ok;
        errors += c.errors;
    }
    let per_request = |b: Option<f64>, a: Option<f64>| a.zip(b).map(|(a, b)| (a - b) * 1e6 / ok.max(1) as f64);
    Report {
        server_cpu_us: per_request(cpu_before.0, cpu_after.0),
        client_cpu_us: per_request(cpu_before.1, cpu_after.1),
        ok,
        errors,
        rps: ok as f64 / elapsed,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
    }
}

async fn spawn_all(target: &Arc<Target>, connector: &tokio_rustls::TlsConnector, shape: Shape) -> Vec<Conn> {
    let start = Instant::now();
    let spread = shape.rate.map(|r| Duration::from_secs_f64(1.0 / r.max(1) as f64));
    let tasks: Vec<_> = (0..shape.connections)
        .map(|i| {
            let offset = spread.map(|s| s * i as u32).unwrap_or_default();
            tokio::spawn(one_connection(target.clone(), connector.clone(), shape, start, offset))
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        if let Ok(c) = t.await {
            out.push(c);
        }
    }
    out
}
