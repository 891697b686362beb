//! Where the end-of-life export bundle goes: a fresh directory per run, or the one the user
//! named if it is new or empty. An existing export is never overwritten or deleted.

use std::path::{Path, PathBuf};

/// Checks that `dir`, named by the user, can take a bundle: it does not exist yet, or it is an
/// empty directory. The message says what is wrong and what to do.
pub fn check_given(dir: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if dir.exists() && !dir.is_dir() => {
            return Err(format!(
                "export directory {} is not a directory ({e}); give a new or empty directory",
                dir.display()
            ));
        }
        Err(e) => return Err(format!("export directory {}: {e}", dir.display())),
    };
    let held = entries.count();
    if held > 0 {
        return Err(format!(
            "export directory {} is not empty ({held} {}); fleet-sim never overwrites an export: give a new or empty directory, or remove this one first",
            dir.display(),
            if held == 1 { "entry" } else { "entries" }
        ));
    }
    Ok(())
}

/// The directory for this run's bundle, created: `given` if the user named one (checked with
/// [`check_given`] again, now that the run is over), else a new directory under the system
/// temporary directory named for the seed, the time and the process.
pub fn prepare(given: Option<&Path>, seed: u64) -> Result<PathBuf, String> {
    if let Some(dir) = given {
        check_given(dir)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("export directory {}: {e}", dir.display()))?;
        return Ok(dir.to_path_buf());
    }
    let base = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let pid = std::process::id();
    for n in 0..1_000u32 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let dir = base.join(format!("fleet-sim-export-seed{seed}-{stamp}-{pid}{suffix}"));
        // `create_dir` fails on an existing directory: nothing is ever reused.
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("export directory {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "no fresh export directory could be made under {}",
        base.display()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fleet-sim-export-dir-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_new_or_empty_directory_is_taken() {
        let d = scratch("empty");
        check_given(&d).unwrap();
        assert_eq!(prepare(Some(&d), 1).unwrap(), d);
        // Now it exists and is empty: still fine.
        assert_eq!(prepare(Some(&d), 1).unwrap(), d);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_with_anything_in_it_is_refused_and_left_alone() {
        let d = scratch("full");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("devices.csv"), "precious").unwrap();
        let err = check_given(&d).unwrap_err();
        assert!(err.contains("is not empty (1 entry)"), "{err}");
        assert!(err.contains("never overwrites"), "{err}");
        assert_eq!(prepare(Some(&d), 1).unwrap_err(), err);
        assert_eq!(
            std::fs::read_to_string(d.join("devices.csv")).unwrap(),
            "precious"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_is_not_a_directory() {
        let d = scratch("file");
        std::fs::write(&d, "x").unwrap();
        let err = check_given(&d).unwrap_err();
        assert!(err.contains("is not a directory"), "{err}");
        std::fs::remove_file(&d).unwrap();
    }

    #[test]
    fn every_run_gets_its_own_directory() {
        let a = prepare(None, 7).unwrap();
        let b = prepare(None, 7).unwrap();
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
        assert!(
            a.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("fleet-sim-export-seed7-")
        );
        std::fs::remove_dir(&a).unwrap();
        std::fs::remove_dir(&b).unwrap();
    }
}
