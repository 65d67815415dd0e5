//! Registers the webhook configurations of `config/webhook` for a webhook running
//! outside the cluster at `https://127.0.0.1:<port>`, as the demo does.

use serde_json::Value;

use crate::kubectl::Kubectl;

/// The two configurations of `config/webhook`, calling `base_url` + their path
/// and trusting `ca_pem`. The namespace selector is dropped: 1.20 namespaces lack
/// the `kubernetes.io/metadata.name` label it matches on.
pub async fn local_configurations(kubectl: Kubectl, base_url: &str, ca_pem: &str) -> Vec<Value> {
    use base64::Engine;
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let rendered =
        kubectl.args(["kustomize", crate::repo_path("config/webhook").to_str().unwrap_or("config/webhook")]).ok().await;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&rendered) {
        let Ok(mut v) = <Value as serde::Deserialize>::deserialize(doc) else { continue };
        if !v["kind"].as_str().is_some_and(|k| k.ends_with("WebhookConfiguration")) {
            continue;
        }
        if let Some(hooks) = v["webhooks"].as_array_mut() {
            for hook in hooks {
                let path = hook["clientConfig"]["service"]["path"].as_str().unwrap_or("/").to_string();
                hook["clientConfig"] = serde_json::json!({"url": format!("{base_url}{path}"), "caBundle": bundle});
                if let Some(h) = hook.as_object_mut() {
                    h.remove("namespaceSelector");
                }
            }
        }
        out.push(v);
    }
    out
}
