//! `certgen`: writes a CA and a webhook serving certificate into a folder.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Writes `ca.crt`, `ca.key`, `tls.crt`, `tls.key`, `ca-bundle.b64` and
/// `ca-bundle-patch.yaml` into OUT. An existing CA in OUT is reused, so the
/// `caBundle` stays the same when only the serving certificate is renewed.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Output folder.
    #[arg(long, env = "CERTGEN_OUT")]
    out: PathBuf,
    /// DNS names of the serving certificate, e.g. `supabase-operator-webhook.supabase-operator-system.svc`.
    #[arg(long = "dns")]
    dns: Vec<String>,
    /// IP addresses of the serving certificate, e.g. `127.0.0.1` for a webhook outside the cluster.
    #[arg(long = "ip")]
    ip: Vec<std::net::IpAddr>,
    /// Days the serving certificate is valid.
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// Days a new CA is valid.
    #[arg(long, default_value_t = 3650)]
    ca_days: i64,
    /// Make a new CA even when OUT holds one (the caBundle changes).
    #[arg(long)]
    renew_ca: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let names: Vec<String> = args.dns.iter().cloned().chain(args.ip.iter().map(|ip| ip.to_string())).collect();
    match certs::write_all(&args.out, &names, args.days, args.ca_days, args.renew_ca) {
        Ok(w) => {
            let ca = if w.new_ca { "new CA" } else { "existing CA" };
            eprintln!(
                "certgen: wrote {} and {} ({ca}); caBundle in {}",
                w.tls_cert.display(),
                w.tls_key.display(),
                w.ca_bundle.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("certgen: {e}");
            ExitCode::FAILURE
        }
    }
}
