//! Installs the committed CRD into the shared cluster, the way `kubectl apply
//! --server-side` would, and waits until the apiserver serves it.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use crate::Error;

/// Field manager of the harness's own writes.
pub const MANAGER: &str = "supabase-operator-tests";

/// The committed `crds/supabaseproject.yaml`.
pub fn committed() -> Result<CustomResourceDefinition, Error> {
    let path = crate::repo_path("crds/supabaseproject.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(format!("read {}", path.display()), e))?;
    serde_yaml::from_str(&text).map_err(|e| Error::Manifest(path, e.to_string()))
}

/// Applies the committed CRD (idempotent; safe from parallel tests) and waits
/// until it is `Established`.
pub async fn install(client: &Client) -> Result<(), Error> {
    let crd = committed()?;
    establish(client, &crd.metadata.name.clone().unwrap_or_default(), &crd).await
}

/// The Gateway API's HTTPRoute CRD, as released (see `tests/crds/README.md`), less what
/// the local apiserver (1.20, older than the Gateway API supports) refuses: its CEL rules
/// (`x-kubernetes-validations`, "field not declared in schema"; 1.20 predates CEL) and the
/// empty-string defaults of the backend `group` fields (1.20 reads `default: ""` as null:
/// "Invalid value: \"null\": in body must be of type string"). Everything else of the
/// structural schema (types, enums, patterns, the other defaults) stays.
pub fn gateway_api() -> Result<serde_json::Value, Error> {
    let path = crate::repo_path("tests/crds/gateway.networking.k8s.io_httproutes.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(format!("read {}", path.display()), e))?;
    let mut value: serde_json::Value =
        serde_yaml::from_str(&text).map_err(|e| Error::Manifest(path.clone(), e.to_string()))?;
    drop_unsupported(&mut value);
    Ok(value)
}

fn drop_unsupported(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("x-kubernetes-validations");
            if m.get("default") == Some(&serde_json::Value::String(String::new())) {
                m.remove("default");
            }
            m.values_mut().for_each(drop_unsupported);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_unsupported),
        _ => {}
    }
}

/// Installs the Gateway API's HTTPRoute CRD like any CRD and waits until it is served.
pub async fn install_gateway_api(client: &Client) -> Result<(), Error> {
    let crd = gateway_api()?;
    let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
    establish(client, &name, &crd).await
}

async fn establish(client: &Client, name: &str, crd: &(impl serde::Serialize + std::fmt::Debug)) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(crd)).await?;
    let patience = crate::patience::settle();
    let deadline = Instant::now() + patience;
    loop {
        let current = api.get(name).await?;
        let established = current
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Cluster(format!("CRD {name} not Established after {patience:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
