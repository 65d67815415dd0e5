//! Graceful shutdown: SIGTERM turns readiness off, then the listeners stop, in-flight
//! requests finish, keep-alive connections close, and the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use crate::Error;

/// Shared shutdown state.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    draining: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl Shutdown {
    /// A fresh, running state.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Marks the server as going away: readiness turns false at once.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether a shutdown has begun.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Tells the listeners to stop accepting and connections to close.
    pub fn stop(&self) {
        self.begin_drain();
        self.stop.cancel();
    }

    /// Resolves once [`Shutdown::stop`] was called.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() -> Result<&'static str, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
