//! A container's environment resolved as the kubelet resolves it, so a test can run the
//! real program with exactly what its pod would get: `envFrom` first (ConfigMaps and
//! Secrets, with their prefix), then `env` in order; literal values go through `$(VAR)`
//! expansion against the variables defined before them, values from `secretKeyRef`,
//! `configMapKeyRef` and `fieldRef` do not.
//!
//! Expansion follows Kubernetes' third_party/forked/golang/expansion/expand.go
//! (kubernetes/kubernetes @ 02604f7db394870a4f9af9deb7e457274a0aa7ee): `$$` is a literal
//! `$`; `$(NAME)` is the value of an earlier variable, or stays as written when there is
//! none; a `$` before anything else, or an unterminated `$(`, stays as written. The kubelet
//! expands with the variables defined so far (kubelet_pods.go, makeEnvironmentVariables).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use kube::Client;
use kube::api::Api;

/// Expands `$(VAR)` references in `input` with `vars`, as the kubelet does.
pub fn expand(input: &str, vars: &BTreeMap<String, String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut plain = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        out.push_str(&input[plain..i]);
        match bytes[i + 1] {
            b'$' => {
                out.push('$');
                i += 2;
            }
            b'(' => match input[i + 2..].find(')') {
                Some(len) => {
                    let name = &input[i + 2..i + 2 + len];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&input[i..i + 3 + len]),
                    }
                    i += 3 + len;
                }
                None => {
                    out.push_str("$(");
                    i += 2;
                }
            },
            _ => {
                // `$` and the next character stay as written; the character is
                // copied with the plain text that follows.
                out.push('$');
                i += 1;
            }
        }
        plain = i;
    }
    out.push_str(&input[plain..]);
    out
}

/// Values the pod would get from `fieldRef`: its name, namespace and IP.
#[derive(Clone, Debug)]
pub struct PodFields {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `status.podIP` (and `status.hostIP`): where the local process listens.
    pub ip: String,
}

/// The environment `container` gets in `namespace`, reading its Secrets and ConfigMaps
/// from the apiserver. Panics on a missing non-optional reference, as the kubelet
/// refuses to start such a container.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    container: &Container,
    pod: &PodFields,
) -> Vec<(String, String)> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut order: Vec<String> = Vec::new();
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let define = |name: String, value: String, order: &mut Vec<String>, vars: &mut BTreeMap<String, String>| {
        if !vars.contains_key(&name) {
            order.push(name.clone());
        }
        vars.insert(name, value);
    };
    for from in container.env_from.clone().unwrap_or_default() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let data: BTreeMap<String, String> = if let Some(s) = &from.secret_ref {
            match secrets.get_opt(&s.name).await.expect("get Secret") {
                Some(secret) => secret_data(&secret),
                None if s.optional == Some(true) => BTreeMap::new(),
                None => panic!("envFrom: Secret {} not found", s.name),
            }
        } else if let Some(c) = &from.config_map_ref {
            match maps.get_opt(&c.name).await.expect("get ConfigMap") {
                Some(cm) => cm.data.unwrap_or_default(),
                None if c.optional == Some(true) => BTreeMap::new(),
                None => panic!("envFrom: ConfigMap {} not found", c.name),
            }
        } else {
            BTreeMap::new()
        };
        for (k, v) in data {
            define(format!("{prefix}{k}"), v, &mut order, &mut vars);
        }
    }
    for var in container.env.clone().unwrap_or_default() {
        let value = match (&var.value, &var.value_from) {
            (_, Some(from)) => {
                if let Some(r) = &from.secret_key_ref {
                    let secret = secrets.get_opt(&r.name).await.expect("get Secret");
                    match secret.as_ref().map(secret_data).and_then(|d| d.get(&r.key).cloned()) {
                        Some(v) => v,
                        None if r.optional == Some(true) => continue,
                        None => panic!("{}: Secret {} key {} not found", var.name, r.name, r.key),
                    }
                } else if let Some(r) = &from.config_map_key_ref {
                    let cm = maps.get_opt(&r.name).await.expect("get ConfigMap");
                    match cm.and_then(|c| c.data).and_then(|d| d.get(&r.key).cloned()) {
                        Some(v) => v,
                        None if r.optional == Some(true) => continue,
                        None => panic!("{}: ConfigMap {} key {} not found", var.name, r.name, r.key),
                    }
                } else if let Some(f) = &from.field_ref {
                    match f.field_path.as_str() {
                        "metadata.name" => pod.name.clone(),
                        "metadata.namespace" => pod.namespace.clone(),
                        "status.podIP" | "status.hostIP" => pod.ip.clone(),
                        other => panic!("{}: fieldRef {other} is not supported here", var.name),
                    }
                } else {
                    panic!("{}: an unsupported valueFrom", var.name)
                }
            }
            (value, None) => expand(value.as_deref().unwrap_or_default(), &vars),
        };
        define(var.name.clone(), value, &mut order, &mut vars);
    }
    order.into_iter().map(|k| (k.clone(), vars[&k].clone())).collect()
}

fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = secret.string_data.clone().unwrap_or_default();
    for (k, v) in secret.data.clone().unwrap_or_default() {
        out.insert(k, String::from_utf8(v.0).expect("UTF-8 Secret value"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kubernetes' own cases (third_party/forked/golang/expansion/expand_test.go, TestMapping):
    /// the mapping and each input with the output the kubelet produces.
    #[test]
    fn expansion_matches_the_kubelet() {
        let vars: BTreeMap<String, String> =
            [("VAR_A", "A"), ("VAR_B", "B"), ("VAR_C", "C"), ("VAR_REF", "$(VAR_A)"), ("VAR_EMPTY", "")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let cases = [
            ("$(VAR_A)", "A"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
            ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
            ("$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("foo\\$(VAR_C)bar", "foo\\Cbar"),
            ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
            ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"),
            ("foo$(VAR_EMPTY)bar", "foobar"),
            ("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
            ("f00__(VAR_A)__", "f00__(VAR_A)__"),
            ("$?_boo_$!", "$?_boo_$!"),
            ("$VAR_A", "$VAR_A"),
            ("$(VAR_DNE)", "$(VAR_DNE)"),
            ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
            ("$$$$$$(VAR_A)", "$$$(VAR_A)"),
            ("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
            ("$$$$$$$(VAR_A)", "$$$A"),
            ("$VAR_A)", "$VAR_A)"),
            ("${VAR_A}", "${VAR_A}"),
            ("$(VAR_B)_______$(A", "B_______$(A"),
            ("$(VAR_C)_______$(", "C_______$("),
            ("$(VAR_A)foobarzab$", "Afoobarzab$"),
            ("foo-\\$(VAR_A", "foo-\\$(VAR_A"),
            ("--$($($($($--", "--$($($($($--"),
            ("$($($($($--foo$(", "$($($($($--foo$("),
            ("foo0--$($($($(", "foo0--$($($($("),
            ("$(foo$$var)", "$(foo$$var)"),
            ("\n", "\n"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &vars), want, "input {input:?}");
        }
    }

    /// TestMapReference: each variable sees the ones defined before it, expanded.
    #[test]
    fn later_variables_see_earlier_ones_expanded() {
        let mut vars = BTreeMap::new();
        for (k, v) in [("FOO", "bar"), ("ZOO", "$(FOO)-1"), ("BLU", "$(ZOO)-2")] {
            let value = expand(v, &vars);
            vars.insert(k.to_string(), value);
        }
        assert_eq!(vars["BLU"], "bar-1-2");
        // A reference to a variable defined later stays as written.
        assert_eq!(expand("$(LATER)", &vars), "$(LATER)");
    }
}
