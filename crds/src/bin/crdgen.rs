//! Prints the SupabaseProject CRD as YAML. `crds/supabaseproject.yaml` is this output.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    match crds::crd::yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("crdgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
