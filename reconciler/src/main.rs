//! `reconciler`: rolls out the Supabase components of each SupabaseProject.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use reconciler::{Error, Settings};
use tokio_util::sync::CancellationToken;

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    match webhook::shutdown::signal().await {
        Ok(signal) => tracing::info!(signal, "signal received; shutting down"),
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return;
        }
    }
    shutdown.cancel();
}

async fn run(settings: Settings) -> Result<(), Error> {
    settings.check()?;
    let client = settings.client().await?;
    let config = settings.config(&client);
    tracing::info!(identity = %config.lease.identity, lease = %config.lease.name, "starting");
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(stop_on_signal(shutdown.clone()));
    let result = reconciler::run(config, client, shutdown).await;
    signals.abort();
    result
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    if let Err(e) = webhook::telemetry::init(settings.log_format) {
        eprintln!("reconciler: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "reconciler stopped");
            eprintln!("reconciler: {e}");
            ExitCode::FAILURE
        }
    }
}
