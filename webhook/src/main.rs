//! `webhook`: the SupabaseProject admission server (defaulting and validation).
//!
//! Only the command line exists so far; the server is built in the webhook issue.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Admission webhook for SupabaseProject: fills defaults and rejects invalid projects.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the TLS admission endpoint.
    #[arg(long, env = "WEBHOOK_LISTEN", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// PEM serving certificate (reloaded when it changes).
    #[arg(long, env = "WEBHOOK_TLS_CERT", default_value = "/tls/tls.crt")]
    tls_cert: PathBuf,
    /// PEM private key of the serving certificate.
    #[arg(long, env = "WEBHOOK_TLS_KEY", default_value = "/tls/tls.key")]
    tls_key: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    eprintln!("webhook: the admission server is not built yet (listen {}); see issue 3", args.listen);
    ExitCode::FAILURE
}
