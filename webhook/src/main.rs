//! `webhook`: the SupabaseProject admission server (defaulting and validation).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use webhook::{Error, Settings};

/// glibc's allocator spent a third of a review's time in malloc and free (measured with
/// `bench-webhook handler`); mimalloc halves that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn client(settings: &Settings) -> Result<Client, Error> {
    let config = match &settings.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| Error::KubeConfig(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| Error::KubeConfig(e.to_string()))?
        }
        None => Config::infer().await.map_err(|e| Error::KubeConfig(e.to_string()))?,
    };
    Ok(Client::try_from(config)?)
}

async fn run(settings: Settings) -> Result<(), Error> {
    let client = client(&settings).await?;
    let running = webhook::start(settings, client).await?;
    let signal = webhook::shutdown::signal().await?;
    tracing::info!(signal, "signal received");
    running.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    if let Err(e) = webhook::telemetry::init(settings.log_format) {
        eprintln!("webhook: {e}");
        return ExitCode::FAILURE;
    }
    // One crypto provider for every TLS user in the process (the kube client included).
    let _ = rustls::crypto::ring::default_provider().install_default();
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
            tracing::error!(error = %e, "webhook failed");
            eprintln!("webhook: {e}");
            ExitCode::FAILURE
        }
    }
}
