//! Rule 3 for Storage's volume claim: a size that is a positive quantity, at least one
//! access mode, and on UPDATE nothing that Kubernetes keeps fixed in a claim changed
//! (its class and access modes, and it never shrinks): the reconciler creates the claim
//! once and afterwards applies only what may change (labels, owner, size), so a
//! change here would otherwise be silently ignored, or refused by the apiserver on
//! every reconcile. How many Storage replicas the claim allows is checked with the
//! other replica bounds (`workloads`).
//!
//! Warnings: a `file` backend without a claim (a project stored before claims existed:
//! its files are in an emptyDir), and a claim the `s3` backend does not use.

use crds::project::{StorageBackend, StorageVolumeSpec, VolumeAccessMode};

use super::field::{Cause, Rule, quoted};
use super::{Input, Report};

const FIELD: &str = "spec.storage.volume";

pub(super) fn check(input: &Input<'_>, report: &mut Report) {
    let Some(storage) = &input.spec.storage else { return };
    let file = storage.backend.unwrap_or(StorageBackend::File) == StorageBackend::File;
    let claim = crds::names::storage_claim(input.name);
    let Some(volume) = &storage.volume else {
        if file {
            report.warnings.push(format!(
                "{FIELD}: not set: Storage keeps its files in an emptyDir and loses them whenever its pod restarts \
                 (the project was stored before volume claims existed); set {FIELD} (e.g. to {{}} for a 1Gi \
                 ReadWriteOnce claim {claim:?}) to keep them: files already in the emptyDir are not copied"
            ));
        }
        return;
    };
    if !file {
        report.warnings.push(format!(
            "{FIELD}: not used with the s3 backend: the claim {claim:?}, if it exists, is neither mounted nor deleted \
             by the operator; remove the field, and the claim once its files are no longer needed"
        ));
    }
    let causes = &mut report.causes;
    let size = volume.size.as_ref().map(|q| (q.0.as_str(), crds::quantity::parse(&q.0)));
    match size {
        Some((shown, Err(_))) => causes.push(Cause::invalid(
            Rule::Workloads,
            format!("{FIELD}.size"),
            quoted(shown),
            "must be a Kubernetes quantity such as 1Gi or 500Mi",
        )),
        Some((shown, Ok(v))) if v <= 0.0 => causes.push(Cause::invalid(
            Rule::Workloads,
            format!("{FIELD}.size"),
            quoted(shown),
            "must be greater than zero",
        )),
        _ => {}
    }
    if volume.access_modes.as_ref().is_some_and(Vec::is_empty) {
        causes.push(Cause::required(
            Rule::Workloads,
            format!("{FIELD}.accessModes"),
            "at least one access mode (ReadWriteOnce or ReadWriteMany)",
        ));
    }
    let Some(old) = input.old.and_then(|o| o.storage.as_ref()).and_then(|s| s.volume.as_ref()) else { return };
    unchanged(old, volume, &claim, causes);
}

/// On UPDATE: what Kubernetes keeps fixed in an existing claim.
fn unchanged(old: &StorageVolumeSpec, new: &StorageVolumeSpec, claim: &str, causes: &mut Vec<Cause>) {
    fn parsed(v: &StorageVolumeSpec) -> Option<(f64, &str)> {
        let q = v.size.as_ref()?;
        crds::quantity::parse(&q.0).ok().map(|n| (n, q.0.as_str()))
    }
    if let (Some((was, was_shown)), Some((now, now_shown))) = (parsed(old), parsed(new))
        && now < was
    {
        causes.push(Cause::invalid(
            Rule::Workloads,
            format!("{FIELD}.size"),
            quoted(now_shown),
            format!(
                "must not be less than the previous value {:?}: a PersistentVolumeClaim ({claim}) cannot shrink",
                was_shown
            ),
        ));
    }
    // A class set where there was none is left to Kubernetes (newer clusters let a claim
    // without a class take one); a set class never changes.
    if let (Some(was), now) = (&old.storage_class_name, &new.storage_class_name)
        && Some(was) != now.as_ref()
    {
        causes.push(Cause::invalid(
            Rule::Workloads,
            format!("{FIELD}.storageClassName"),
            quoted(now.as_deref().unwrap_or("")),
            format!("field is immutable: the claim {claim} keeps the class {was:?} it was created with"),
        ));
    }
    let modes = |v: &StorageVolumeSpec| {
        let mut m: Vec<VolumeAccessMode> = v.access_modes.clone().unwrap_or_default();
        m.sort_by_key(|m| m.as_str());
        m.dedup();
        m
    };
    if old.access_modes.is_some() && new.access_modes.is_some() && modes(old) != modes(new) {
        let shown: Vec<&str> = modes(new).iter().map(|m| m.as_str()).collect();
        let was: Vec<&str> = modes(old).iter().map(|m| m.as_str()).collect();
        causes.push(Cause::invalid(
            Rule::Workloads,
            format!("{FIELD}.accessModes"),
            format!("{shown:?}"),
            format!("field is immutable: the claim {claim} keeps the access modes {was:?} it was created with"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use crds::project::{StorageBackend, StorageVolumeSpec, VolumeAccessMode};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn file(volume: Option<StorageVolumeSpec>) -> Case {
        Case::valid().with(|s| {
            let storage = s.storage.as_mut().unwrap();
            storage.backend = Some(StorageBackend::File);
            storage.volume = volume;
        })
    }

    fn volume(size: &str, modes: &[VolumeAccessMode]) -> StorageVolumeSpec {
        StorageVolumeSpec {
            size: Some(Quantity(size.into())),
            access_modes: Some(modes.to_vec()),
            when_deleted: Some(crds::project::VolumeRetention::Retain),
            ..Default::default()
        }
    }

    const RWO: &[VolumeAccessMode] = &[VolumeAccessMode::ReadWriteOnce];
    const RWX: &[VolumeAccessMode] = &[VolumeAccessMode::ReadWriteMany];

    #[test]
    fn a_claim_needs_a_positive_size_and_an_access_mode() {
        let report = file(Some(volume("1Gi", RWO))).run();
        assert!(report.causes.is_empty() && report.warnings.is_empty(), "{report:?}");
        assert_eq!(
            file(Some(volume("lots", RWO))).messages(),
            "spec.storage.volume.size: Invalid value: \"lots\": must be a Kubernetes quantity such as 1Gi or 500Mi"
        );
        assert_eq!(
            file(Some(volume("0", RWO))).messages(),
            "spec.storage.volume.size: Invalid value: \"0\": must be greater than zero"
        );
        assert_eq!(file(Some(volume("1Gi", &[]))).fields(), ["spec.storage.volume.accessModes"]);
    }

    #[test]
    fn an_update_may_grow_the_claim_but_not_shrink_it_or_change_what_is_fixed() {
        let mut case = file(Some(volume("10Gi", RWO)));
        case.old = Some(case.spec.clone());
        assert!(case.fields().is_empty(), "unchanged");
        let grown = case.clone().with(|s| s.storage.as_mut().unwrap().volume = Some(volume("20Gi", RWO)));
        assert!(grown.fields().is_empty(), "a claim may grow");
        let shrunk = case.clone().with(|s| s.storage.as_mut().unwrap().volume = Some(volume("5000Mi", RWO)));
        assert_eq!(
            shrunk.messages(),
            "spec.storage.volume.size: Invalid value: \"5000Mi\": must not be less than the previous value \"10Gi\": \
             a PersistentVolumeClaim (demo-storage) cannot shrink"
        );
        let shared = case.clone().with(|s| s.storage.as_mut().unwrap().volume = Some(volume("10Gi", RWX)));
        assert_eq!(shared.fields(), ["spec.storage.volume.accessModes"]);
        let mut classed = case.clone();
        classed.old.as_mut().unwrap().storage.as_mut().unwrap().volume.as_mut().unwrap().storage_class_name =
            Some("fast".into());
        assert_eq!(classed.fields(), ["spec.storage.volume.storageClassName"], "a set class never changes");
        let mut unclassed = case.clone();
        unclassed.spec.storage.as_mut().unwrap().volume.as_mut().unwrap().storage_class_name = Some("fast".into());
        assert!(unclassed.fields().is_empty(), "a claim without a class may take one");
        // A project stored without a claim may get one.
        let mut first = case.with(|s| s.storage.as_mut().unwrap().volume = Some(volume("1Gi", RWO)));
        first.old.as_mut().unwrap().storage.as_mut().unwrap().volume = None;
        assert!(first.fields().is_empty());
    }

    #[test]
    fn a_file_backend_without_a_claim_and_a_claim_s3_does_not_use_warn() {
        let report = file(None).run();
        assert!(report.causes.is_empty());
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].starts_with("spec.storage.volume: not set: Storage keeps its files in an emptyDir"));
        let s3 = Case::valid().with(|s| {
            let storage = s.storage.as_mut().unwrap();
            assert_eq!(storage.backend, Some(StorageBackend::S3), "the fixture uses s3");
            storage.volume = Some(volume("1Gi", RWO));
        });
        let report = s3.run();
        assert!(report.causes.is_empty(), "{:?}", report.causes);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].starts_with("spec.storage.volume: not used with the s3 backend"));
        let plain = Case::valid().with(|s| s.storage.as_mut().unwrap().volume = None);
        assert!(plain.run().warnings.is_empty(), "s3 without a claim: nothing to say");
    }
}
