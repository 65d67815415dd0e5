//! Rule 3 for imgproxy: with the `file` backend it reads Storage's files from Storage's
//! volume claim, so it needs one. A project stored before claims existed keeps its files
//! in an emptyDir inside Storage's pod, which no other pod can mount: imgproxy is refused
//! there, naming `spec.storage.volume`, rather than admitted to answer "not found" for
//! every image. On a ReadWriteOnce claim the two run on one node (the reconciler gives
//! both pods an affinity to each other); a warning says so, since it decides where
//! Storage may be scheduled.

use crds::Component;
use crds::project::{StorageBackend, VolumeAccessMode};

use super::field::{Cause, Rule};
use super::{Input, Report};

const ENABLED: &str = "spec.components.imgproxy.enabled";

pub(super) fn check(input: &Input<'_>, report: &mut Report) {
    if !input.spec.enabled(Component::Imgproxy) {
        return;
    }
    let storage = input.spec.storage.as_ref();
    let file = storage.and_then(|s| s.backend).unwrap_or(StorageBackend::File) == StorageBackend::File;
    if !file {
        return;
    }
    let Some(volume) = storage.and_then(|s| s.volume.as_ref()) else {
        report.causes.push(Cause::required(
            Rule::Workloads,
            "spec.storage.volume",
            format!(
                "{ENABLED} is true and imgproxy reads Storage's files from its volume claim, but without \
                 spec.storage.volume Storage keeps them in an emptyDir inside its own pod, which imgproxy cannot \
                 mount: set spec.storage.volume (files already in the emptyDir are not copied), or set {ENABLED} \
                 to false"
            ),
        ));
        return;
    };
    let shared = volume.access_modes.as_ref().is_some_and(|m| m.contains(&VolumeAccessMode::ReadWriteMany));
    if !shared {
        report.warnings.push(format!(
            "spec.storage.volume.accessModes: ReadWriteOnce: imgproxy mounts Storage's claim, which only one node \
             can attach, so imgproxy's and Storage's pods are scheduled onto the same node; use ReadWriteMany \
             (where the storage class offers it) to let them run apart, or set {ENABLED} to false"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use crds::project::{ImgproxySpec, StorageBackend, StorageVolumeSpec, VolumeAccessMode, VolumeRetention};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn about_imgproxy(warnings: &[String]) -> Vec<&String> {
        warnings.iter().filter(|w| w.contains("imgproxy")).collect()
    }

    fn imgproxy(backend: StorageBackend, modes: Option<&[VolumeAccessMode]>) -> Case {
        Case::valid().with(|s| {
            let storage = s.storage.as_mut().unwrap();
            storage.backend = Some(backend);
            storage.volume = modes.map(|m| StorageVolumeSpec {
                size: Some(Quantity("1Gi".into())),
                access_modes: Some(m.to_vec()),
                when_deleted: Some(VolumeRetention::Retain),
                ..Default::default()
            });
            s.components.as_mut().unwrap().imgproxy = Some(ImgproxySpec { enabled: Some(true), ..Default::default() });
        })
    }

    #[test]
    fn imgproxy_on_the_file_backend_needs_storages_claim() {
        let case = imgproxy(StorageBackend::File, None);
        let messages = case.messages();
        assert!(
            messages.starts_with(
                "spec.storage.volume: Required value: spec.components.imgproxy.enabled is true and imgproxy reads"
            ),
            "{messages}"
        );
        assert!(messages.contains("set spec.storage.volume"), "{messages}");
        // The same project without imgproxy is admitted (with the emptyDir warning only).
        let without = case.with(|s| s.components.as_mut().unwrap().imgproxy.as_mut().unwrap().enabled = Some(false));
        assert!(without.fields().is_empty(), "{:?}", without.run());
    }

    #[test]
    fn a_read_write_once_claim_is_admitted_with_a_warning_and_a_shared_one_without() {
        let rwo = imgproxy(StorageBackend::File, Some(&[VolumeAccessMode::ReadWriteOnce])).run();
        assert!(rwo.causes.is_empty(), "{rwo:?}");
        let warned = about_imgproxy(&rwo.warnings);
        assert_eq!(warned.len(), 1, "{rwo:?}");
        assert!(warned[0].starts_with("spec.storage.volume.accessModes: ReadWriteOnce: imgproxy"), "{rwo:?}");
        let rwx = imgproxy(StorageBackend::File, Some(&[VolumeAccessMode::ReadWriteMany])).run();
        assert!(rwx.causes.is_empty() && about_imgproxy(&rwx.warnings).is_empty(), "{rwx:?}");
    }

    #[test]
    fn the_s3_backend_needs_no_claim() {
        // Case::valid() is on S3 already; Storage hands imgproxy presigned URLs there.
        let report = imgproxy(StorageBackend::S3, None).run();
        assert!(report.causes.is_empty(), "{report:?}");
        assert!(about_imgproxy(&report.warnings).is_empty(), "{report:?}");
    }
}
