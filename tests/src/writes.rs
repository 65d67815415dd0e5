//! A tower layer for a kube client that records every write the client sends, for tests
//! that check when a process wrote (fencing: nothing after its leadership lapsed). It can
//! also stall the client's Lease writes, as a partition between the process and the
//! apiserver would, while every other request still goes through.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use tower::{Layer, Service};

/// One write request as the client sent it.
#[derive(Clone, Debug)]
pub struct Write {
    /// POST, PUT, PATCH or DELETE.
    pub method: Method,
    /// The request path.
    pub path: String,
    /// The query string, empty when none.
    pub query: String,
    /// When the client sent it (entered the layer).
    pub sent: Instant,
    /// When the answer's head arrived; `None` while in flight or when it never did.
    pub answered: Option<Instant>,
    /// The answer's status; `None` when there was none (e.g. connection refused).
    pub status: Option<u16>,
}

impl Write {
    /// A request with `dryRun=All` changes nothing stored.
    pub fn is_dry_run(&self) -> bool {
        self.query.split('&').any(|kv| kv == "dryRun=All")
    }

    /// A write to a `coordination.k8s.io` Lease (acquire, renew, release).
    pub fn is_lease(&self) -> bool {
        self.path.starts_with("/apis/coordination.k8s.io/") && self.path.contains("/leases")
    }

    /// Answered with a 2xx status.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The layer; clones share one record.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    writes: Arc<Mutex<Vec<Write>>>,
    stall_lease: Arc<AtomicBool>,
}

impl Recorder {
    /// Every write recorded so far, in the order sent.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().expect("record").clone()
    }

    /// From now on, Lease writes are recorded but never answered (nor sent on).
    pub fn stall_lease_writes(&self) {
        self.stall_lease.store(true, Ordering::SeqCst);
    }
}

impl<S> Layer<S> for Recorder {
    type Service = Recording<S>;

    fn layer(&self, inner: S) -> Recording<S> {
        Recording { inner, writes: self.writes.clone(), stall_lease: self.stall_lease.clone() }
    }
}

/// The service the layer wraps around a client's stack.
#[derive(Clone, Debug)]
pub struct Recording<S> {
    inner: S,
    writes: Arc<Mutex<Vec<Write>>>,
    stall_lease: Arc<AtomicBool>,
}

type Answer<R, E> = Pin<Box<dyn Future<Output = Result<Response<R>, E>> + Send>>;

impl<S, B, R> Service<Request<B>> for Recording<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Answer<R, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let write = (!matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)).then(|| Write {
            method: req.method().clone(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or_default().to_string(),
            sent: Instant::now(),
            answered: None,
            status: None,
        });
        let stalled = write.as_ref().is_some_and(|w| w.is_lease() && self.stall_lease.load(Ordering::SeqCst));
        let slot = write.map(|w| {
            let mut writes = self.writes.lock().expect("record");
            writes.push(w);
            writes.len() - 1
        });
        if stalled {
            return Box::pin(std::future::pending());
        }
        let answer = self.inner.call(req);
        let writes = self.writes.clone();
        Box::pin(async move {
            let result = answer.await;
            if let Some(i) = slot {
                let mut writes = writes.lock().expect("record");
                writes[i].answered = Some(Instant::now());
                writes[i].status = result.as_ref().ok().map(|r| r.status().as_u16());
            }
            result
        })
    }
}

/// A write sent too long after the last successful Lease write answered before it.
#[derive(Clone, Debug)]
pub struct Late {
    /// The write.
    pub write: Write,
    /// How long after that Lease write's answer it was sent; `None`: no Lease write had
    /// succeeded before it.
    pub after_renewal: Option<Duration>,
}

/// How the non-Lease writes of one process (one client) stand against its Lease
/// renewals: those sent more than `limit` after the last successful Lease write answered
/// before them, and the longest such gap among all of them. Dry runs store nothing and
/// are not writes here.
pub fn fenced(writes: &[Write], limit: Duration) -> (Vec<Late>, Duration) {
    let renewals: Vec<Instant> =
        writes.iter().filter(|w| w.is_lease() && w.succeeded()).filter_map(|w| w.answered).collect();
    let (mut late, mut longest) = (Vec::new(), Duration::ZERO);
    for w in writes.iter().filter(|w| !w.is_lease() && !w.is_dry_run()) {
        let last = renewals.iter().filter(|r| **r <= w.sent).max();
        let after_renewal = last.map(|r| w.sent - *r);
        longest = longest.max(after_renewal.unwrap_or(Duration::MAX));
        if after_renewal.is_none_or(|a| a > limit) {
            late.push(Late { write: w.clone(), after_renewal });
        }
    }
    (late, longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(method: Method, path: &str, sent: Instant, answered_after_ms: u64, status: u16) -> Write {
        Write {
            method,
            path: path.into(),
            query: String::new(),
            sent,
            answered: Some(sent + Duration::from_millis(answered_after_ms)),
            status: Some(status),
        }
    }

    const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/r";
    const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/default/deployments/p-kong";

    #[test]
    fn writes_are_judged_against_the_last_successful_renewal_answered_before_them() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let writes = vec![
            write(Method::PATCH, DEPLOYMENT, t, 1, 200),
            write(Method::PUT, LEASE, t + ms(10), 5, 200),
            write(Method::PATCH, DEPLOYMENT, t + ms(100), 1, 200),
            // A failed renewal does not count; nor one whose answer came after the write.
            write(Method::PUT, LEASE, t + ms(200), 5, 500),
            write(Method::PUT, LEASE, t + ms(300), 100, 200),
            write(Method::POST, "/apis/events.k8s.io/v1/namespaces/default/events", t + ms(350), 1, 201),
            Write { query: "dryRun=All&force=true".into(), ..write(Method::PATCH, DEPLOYMENT, t + ms(900), 1, 200) },
        ];
        let (late, longest) = fenced(&writes, ms(300));
        let late: Vec<_> = late.iter().map(|l| (l.write.sent - t, l.after_renewal)).collect();
        assert_eq!(late, [(ms(0), None), (ms(350), Some(ms(335)))]);
        assert_eq!(longest, Duration::MAX);
        let (late, longest) = fenced(&writes[1..], ms(400));
        assert!(late.is_empty());
        assert_eq!(longest, ms(335));
    }
}
